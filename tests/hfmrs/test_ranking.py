"""Result order: the deterministic tie-break and every sort, with facts some models lack."""

from __future__ import annotations

import pytest

from hfmrs.ranking import order, score_key
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
