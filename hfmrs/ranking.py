"""Result order shared by every method and the engine: sort keys and the deterministic tie-break."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
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
