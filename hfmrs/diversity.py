"""Diversity re-ranking for every method: MMR and a per-author cap over an over-fetched candidate list.

Generic post-processing (the engine asks a method for ``k × HFMRS_DIVERSITY_POOL`` candidates, then
keeps k), so each method, whatever its scores mean, gets the same behaviour:

* **MMR** (maximal marginal relevance): repeatedly take the candidate maximising
  ``λ · relevance − (1 − λ) · max cosine to the ones already taken``.  Relevance is the method's score
  min-max scaled over the candidates (scores of different methods live on different scales: cosine,
  Jaccard, BM25, RRF); similarity between candidates is the cosine of their `text` vectors.  λ = 1 is
  the method's own ranking; smaller λ trades relevance for variety.  Work is O(k × candidates): the
  similarities of each chosen hit to the pool, never a pool × pool matrix.
* **per-author cap**: at most n hits per author (the id's namespace when the author is unknown), so
  twenty near-copies from one uploader can't fill a list.

Both are deterministic: candidates arrive in the engine's order (score, then downloads, then id), and
ties in the MMR objective go to the earlier candidate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from hfmrs.store.base import Hit, Vector


def author_of(hit: Hit) -> str | None:
    """The uploader a cap counts against; None (never capped) for legacy ids with no author."""
    author = hit.payload.get("author")
    if author:
        return str(author)
    return hit.model_id.split("/", 1)[0] if "/" in hit.model_id else None


def diversify(
    hits: Sequence[Hit],
    k: int,
    mmr_lambda: float | None = None,
    per_author: int | None = None,
    vectors: dict[str, Vector] | None = None,
) -> list[Hit]:
    """Up to ``k`` of ``hits`` (best first), re-ranked by MMR when ``mmr_lambda`` is set and capped to
    ``per_author`` hits per author when that is set.  ``vectors``: model id -> dense `text` vector."""
    counts: Counter[str] = Counter()

    def allowed(hit: Hit) -> bool:
        author = author_of(hit)
        return per_author is None or author is None or counts[author] < per_author

    def take(hit: Hit, out: list[Hit]) -> None:
        out.append(hit)
        if (author := author_of(hit)) is not None:
            counts[author] += 1

    chosen: list[Hit] = []
    if mmr_lambda is None:
        for hit in hits:
            if len(chosen) == k:
                break
            if allowed(hit):
                take(hit, chosen)
        return chosen

    pool = list(hits)
    if not pool:
        return []
    scores = np.array([h.score for h in pool], dtype=np.float64)
    span = scores.max() - scores.min()
    relevance = (scores - scores.min()) / span if span > 0 else np.ones(len(pool))
    dim = next((len(v) for v in (vectors or {}).values() if isinstance(v, list)), 0)
    unit = np.zeros((len(pool), max(dim, 1)), dtype=np.float64)
    for i, hit in enumerate(pool):
        vec = (vectors or {}).get(hit.model_id)
        if isinstance(vec, list) and len(vec) == dim and dim:
            row = np.asarray(vec, dtype=np.float64)
            unit[i] = row / max(np.linalg.norm(row), 1e-12)  # no vector: zero row, similar to nothing
    max_sim = np.full(len(pool), -np.inf)  # max cosine to the chosen set; -inf until something is chosen
    free = np.ones(len(pool), dtype=bool)
    while len(chosen) < k:
        candidates = [i for i in np.flatnonzero(free) if allowed(pool[i])]
        if not candidates:
            break
        # Clamped at 0: an opposite vector is no more novel than an unrelated one, and rewarding it
        # would pull in irrelevant models.
        redundancy = np.clip(np.where(np.isfinite(max_sim), max_sim, 0.0), 0.0, None)
        objective = mmr_lambda * relevance - (1 - mmr_lambda) * redundancy
        best = max(candidates, key=lambda i: (round(float(objective[i]), 9), -i))
        take(pool[best], chosen)
        free[best] = False
        max_sim = np.maximum(max_sim, unit @ unit[best])
    return chosen
