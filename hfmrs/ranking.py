"""Result order shared by every method and the engine: sort keys and the deterministic tie-break."""

from __future__ import annotations

import math
from collections.abc import Sequence

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
