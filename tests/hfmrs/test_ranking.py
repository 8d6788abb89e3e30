"""Result order: the deterministic tie-break and every sort, with facts some models lack."""

from __future__ import annotations

import pytest

from hfmrs.ranking import fetch_past_ties, match_percents, order, score_key
from hfmrs.store.base import Hit


def hit(model_id: str, score: float, **payload) -> Hit:
    return Hit(model_id, score, {"id": model_id, **payload})


HITS = [
    hit("b/tied", 0.9, downloads=10, likes=None, last_modified="2024-01-01T00:00:00Z", leaderboard_average=30.0),
    hit("a/tied", 0.9, downloads=10, likes=5, last_modified=None, download_velocity=2.0),
    hit("c/popular-tie", 0.9000000001, downloads=1000, likes=1, last_modified="2026-05-01T00:00:00Z"),
    hit("d/best", 0.95, downloads=0, likes=None, download_velocity=-1.0, leaderboard_average=40.0),
]


def ids(hits) -> list[str]:
    return [h.model_id for h in hits]


def test_score_ties_go_to_downloads_then_id():
    # 0.9000000001 rounds to 0.9: a tie, won by downloads; equal downloads fall back to the id
    assert ids(order(HITS, "score")) == ["d/best", "c/popular-tie", "a/tied", "b/tied"]
    assert score_key(HITS[0]) == (-0.9, -10, "b/tied")


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("downloads-desc", ["c/popular-tie", "a/tied", "b/tied", "d/best"]),
        ("downloads-asc", ["d/best", "a/tied", "b/tied", "c/popular-tie"]),
        # models without the fact follow, in score order
        ("likes", ["a/tied", "c/popular-tie", "d/best", "b/tied"]),
        ("recent", ["c/popular-tie", "b/tied", "d/best", "a/tied"]),
        ("trending", ["a/tied", "d/best", "c/popular-tie", "b/tied"]),
        ("leaderboard", ["d/best", "b/tied", "c/popular-tie", "a/tied"]),
    ],
)
def test_sorts(sort: str, expected: list[str]):
    assert ids(order(HITS, sort)) == expected


def test_order_is_independent_of_input_order():
    for sort in ("score", "likes", "recent"):
        assert ids(order(list(reversed(HITS)), sort)) == ids(order(HITS, sort))


def test_a_tie_at_the_cut_is_fetched_past():
    # Twelve models tie at 0.5: the "search" returns them in an arbitrary (reversed-id) order, as Qdrant may.
    pool = [hit("top", 0.9, downloads=1)] + [hit(f"t/{i:02d}", 0.5, downloads=i % 3) for i in range(12)]
    limits: list[int] = []

    def run(limit: int) -> list[Hit]:
        limits.append(limit)
        return ([pool[0], *sorted(pool[1:], key=lambda h: h.model_id, reverse=True)])[:limit]

    got = fetch_past_ties(run, k=2, fetch=4, most=100)
    assert limits == [4, 8, 16]  # 4 and 8 end inside the tie; 16 holds all 13
    assert ids(got)[:4] == ["top", "t/02", "t/05", "t/08"]  # the tie goes to downloads (2), then the id
    assert ids(fetch_past_ties(run, k=2, fetch=4, most=6))[:1] == ["top"]  # `most` bounds the fetch


def test_a_list_shorter_than_the_fetch_is_final():
    calls: list[int] = []
    assert fetch_past_ties(lambda n: calls.append(n) or HITS[:2], k=5, fetch=8, most=100) and calls == [8]


def test_match_percents():
    assert match_percents([0.93, 0.5, -0.1, 1.2], best=0.93, bounded=True) == [93, 50, 0, 100]
    assert match_percents([21.1, 10.55, 0.0], best=21.1, bounded=False) == [100, 50, 0]
    # below the list's best (a relation or sort left the top out): relative to the best all the same
    assert match_percents([8.0], best=16.0, bounded=False) == [50]
    assert match_percents([-1.0, -3.0], best=1.0, bounded=False) == [50, 0]  # negative scores: from the lowest
    assert match_percents([0.0], best=0.0, bounded=False) == [100] and match_percents([], 0.0, False) == []
