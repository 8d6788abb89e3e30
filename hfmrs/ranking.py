"""Result order shared by every method and the engine: sort keys and the deterministic tie-break."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from hfmrs.store.base import Hit


def score_key(hit: Hit) -> tuple[float, int, str]:
    # Scores are rounded so float noise between equal neighbours can't reorder them; ties go to the
    # more downloaded model, then to the id, so the same request always gives the same list.
    return (-round(hit.score, 6), -(hit.payload.get("downloads") or 0), hit.model_id)


def order(hits: Sequence[Hit], sort: str) -> list[Hit]:
    """Order a method's top-k by ``sort``; every order ends with the deterministic score tie-break."""
    by_score = sorted(hits, key=score_key)
    if sort == "score":
        return by_score
    rank = {h.model_id: i for i, h in enumerate(by_score)}

    def num(h: Hit, name: str) -> float:
        value = h.payload.get(name)
        return float(value) if isinstance(value, (int, float)) else -math.inf

    keys = {
        "downloads-desc": lambda h: (-num(h, "downloads"), rank[h.model_id]),
        "downloads-asc": lambda h: (num(h, "downloads"), rank[h.model_id]),
        "likes": lambda h: (-num(h, "likes"), rank[h.model_id]),
        "recent": lambda h: (_neg_text(h.payload.get("last_modified")), rank[h.model_id]),
        "trending": lambda h: (-num(h, "download_velocity"), rank[h.model_id]),
        "leaderboard": lambda h: (-num(h, "leaderboard_average"), rank[h.model_id]),
    }
    return sorted(by_score, key=keys[sort])


def match_percents(scores: Sequence[float], best: float, bounded: bool) -> list[int]:
    """Scores as a 0-100 match a reader can compare.  ``bounded`` scores (cosine, Jaccard: 1 is identical)
    are shown as they are; unbounded ones (BM25, rank fusions) relative to ``best``, the list's top score
    before any filter of relation or sort, so a model's match does not change with k or the sort."""
    if bounded:
        return [round(100 * min(max(s, 0.0), 1.0)) for s in scores]
    floor = min(0.0, *scores) if scores else 0.0
    span = best - floor
    if span <= 0:
        return [100 for _ in scores]
    return [round(100 * min(max((s - floor) / span, 0.0), 1.0)) for s in scores]


def fetch_past_ties(run: Callable[[int], Sequence[Hit]], k: int, fetch: int, most: int) -> list[Hit]:
    """``run(limit)``'s hits in score order, fetched until the last one no longer ties the k-th (or
    ``most`` were fetched): a search cut inside a tie would let Qdrant, not :func:`score_key`, decide
    which of the tied models are shown, and the list would change with k."""
    while True:
        hits = order(run(fetch), "score")
        if len(hits) < fetch or fetch >= most or len(hits) < k:
            return hits
        if round(hits[-1].score, 6) < round(hits[k - 1].score, 6):
            return hits
        fetch = min(fetch * 2, most)


def _neg_text(value: str | None) -> tuple[int, list[int]]:
    # Newest first: ISO timestamps compare as text; negate code points to sort descending.
    return (0, [-ord(c) for c in value]) if value else (1, [])


def reciprocal_ranks(
    lists: Iterable[tuple[int, Sequence[Hit]]], columns: int, exclude: Iterable[str] = (), k: int = 60
) -> tuple[list[str], list[dict[str, Any]], np.ndarray]:
    """Several ranked lists merged into one candidate set: ids, payloads (first seen) and a matrix with a
    row per candidate and ``columns`` columns, where each list (given with its column) writes
    ``k / (k + rank)`` of the candidate's best rank in it, 0 where absent (reciprocal-rank features)."""
    skip = set(exclude)
    index: dict[str, int] = {}
    payloads: list[dict[str, Any]] = []
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for column, hits in lists:
        for rank, hit in enumerate(hits):
            if hit.model_id in skip:
                continue
            row = index.setdefault(hit.model_id, len(payloads))
            if row == len(payloads):
                payloads.append(hit.payload)
            rows.append(row)
            cols.append(column)
            values.append(k / (k + rank))
    matrix = np.zeros((len(payloads), columns))
    if payloads:
        np.maximum.at(matrix, (rows, cols), values)
    return list(index), payloads, matrix
