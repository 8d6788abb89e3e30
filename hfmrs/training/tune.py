"""Tuning the hybrid's RRF weights on train-split lineage only.

The score of a weight triple (text, gnn, bm25) is the hit rate at 10: the share of sampled child
models whose hybrid top 10 contains one of their base models.  Children and parents come from a
validation fold of the *train* lineage edges that the GNN never saw (see :mod:`hfmrs.training`), so
the GNN's memory of its own training edges can't inflate its weight, and the evaluation's held-out
edges play no part at all.  Each query runs through :class:`HybridRecommender` itself, i.e. the same
Qdrant fused query and popularity prior that serve, so the tuned weights are tuned for what runs.

Known bias, accepted: a child's soup names its base model ("base gpt2"), which helps `text` and `bm25`
on these queries more than on held-out edges, whose mention is stripped from the evaluation build.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from hfmrs.filters import Filters
from hfmrs.recommenders.hybrid import DEFAULT_WEIGHTS, HybridRecommender
from hfmrs.store.base import GNN, TEXT, ModelStore

log = logging.getLogger(__name__)

# Equal weights first: on a tie the simplest setting wins.  No zero weights: a source is either in
# the fusion or the triple is not worth serving (and Qdrant's weighted RRF divides by the weight).
GRID: tuple[tuple[float, float, float], ...] = (
    DEFAULT_WEIGHTS,
    (2.0, 1.0, 1.0),
    (1.0, 2.0, 1.0),
    (1.0, 1.0, 2.0),
    (2.0, 2.0, 1.0),
    (2.0, 1.0, 2.0),
    (1.0, 2.0, 2.0),
    (3.0, 1.0, 1.0),
    (1.0, 3.0, 1.0),
    (1.0, 1.0, 3.0),
)
AT = 10


def tune_hybrid(
    store: ModelStore,
    pairs: Iterable[tuple[str, str]],
    queries: int,
    seed: int,
    prefetch: int,
    prior: float,
) -> dict[str, Any]:
    """The grid's hit rates and the best triple (ties go to the earlier triple in :data:`GRID`)."""
    parents: dict[str, set[str]] = defaultdict(set)
    for child, parent in pairs:
        parents[child].add(parent)
    children = sorted(parents)
    if len(children) > queries:
        children = sorted(random.Random(seed).sample(children, queries))
    points = store.retrieve(children, with_vectors=[TEXT, GNN])
    if not points:
        return {"weights": list(DEFAULT_WEIGHTS), "queries": 0, "grid": [], "note": "no validation edges"}
    grid = []
    for weights in GRID:
        rec = HybridRecommender(store, weights=weights, prefetch=prefetch, prior=prior)
        found = 0
        for point in points:
            hits = rec.similar(point, AT, Filters(exclude=(point.id,)))
            found += any(h.model_id in parents[point.id] for h in hits)
        grid.append({"weights": list(weights), f"hit_rate@{AT}": round(found / len(points), 4)})
        log.debug("hybrid weights %s: hit rate %.3f", weights, found / len(points))
    best = max(range(len(grid)), key=lambda i: (grid[i][f"hit_rate@{AT}"], -i))
    log.info(
        "hybrid: weights %s (hit rate@%d %.3f on %d train-split queries)",
        GRID[best],
        AT,
        grid[best][f"hit_rate@{AT}"],
        len(points),
    )
    return {"weights": list(GRID[best]), "queries": len(points), "metric": f"hit_rate@{AT}", "grid": grid}
