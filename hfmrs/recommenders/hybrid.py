"""`hybrid`: Qdrant's query API fusing `text`, `gnn` and `bm25` prefetches with weighted RRF, plus a
popularity prior.

One request to Qdrant: three prefetches (dense `text`, dense `gnn`, sparse `bm25`), each returning
``HFMRS_HYBRID_PREFETCH`` candidates under the same filters, fused by weighted reciprocal rank fusion
(``rrf_k`` = 60).  The weights are tuned at training time on train-split lineage edges only
(:mod:`hfmrs.training.tune`) and read from the build manifest; ``HFMRS_HYBRID_WEIGHTS`` overrides them.

Popularity prior: after fusion each candidate gains ``w · log10(1 + downloads) / rrf_k²``.  Near the
top of one list, RRF's score ``1 / (rrf_k + rank)`` falls by about ``1 / rrf_k²`` per rank, so the prior
is worth ``w`` rank positions in one source list per tenfold downloads.  At the default ``w`` = 0.5 a
model with 10^8 downloads leads one with 10^2 by about three positions in one list: enough to order
near-ties towards the models people use, never enough to lift an unrelated popular model over one
that all three sources rank high.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hfmrs.features import lexical_text
from hfmrs.filters import Filters
from hfmrs.ranking import score_key
from hfmrs.recommenders.base import Recommender
from hfmrs.recommenders.bm25 import bm25_query
from hfmrs.settings import Settings
from hfmrs.store.base import BM25, GNN, TEXT, Hit, ModelStore, PointData, Vector

RRF_K = 60
DEFAULT_WEIGHTS = (1.0, 1.0, 1.0)  # text, gnn, bm25


def popularity_bonus(downloads: int | None, weight: float, rrf_k: int = RRF_K) -> float:
    """``weight`` rank positions (near the top of one RRF source list) per tenfold downloads."""
    return weight * math.log10(1 + max(downloads or 0, 0)) / rrf_k**2


class HybridRecommender(Recommender):
    name = "hybrid"
    description = "Weighted RRF of text, GNN and BM25 searches in one Qdrant query, plus a popularity prior."
    needs_vectors = (TEXT, GNN)

    def __init__(
        self,
        store: ModelStore,
        weights: Sequence[float] = DEFAULT_WEIGHTS,
        prefetch: int = 100,
        prior: float = 0.5,
        trained: bool = True,
        rrf_k: int = RRF_K,
    ):
        super().__init__(store)
        self.weights = tuple(float(w) for w in weights)
        self.prefetch = prefetch
        self.prior = prior
        self.trained = trained
        self.rrf_k = rrf_k

    @classmethod
    def from_manifest(cls, store: ModelStore, settings: Settings, manifest: dict[str, Any]) -> HybridRecommender:
        training = manifest.get("training") or {}
        tuned = (training.get("hybrid") or {}).get("weights") or DEFAULT_WEIGHTS
        return cls(
            store,
            weights=settings.hybrid_weights or tuned,
            prefetch=settings.hybrid_prefetch,
            prior=settings.popularity_prior,
            trained=bool(training.get("gnn")),
        )

    def available(self) -> bool:
        return self.trained

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        limit = max(self.prefetch, k)
        sources: list[tuple[str, Vector | None]] = [
            (TEXT, query.vectors.get(TEXT)),
            (GNN, query.vectors.get(GNN)),  # absent for a model added after training
            (BM25, bm25_query(lexical_text(query.payload.get("soup") or "", query.payload.get("author")))),
        ]
        prefetches = [(name, vec, limit) for name, vec in sources if vec is not None]
        weights = [w for (_, vec), w in zip(sources, self.weights, strict=True) if vec is not None]
        if not prefetches:
            return []
        fused = self.store.fused_search(prefetches, weights, limit, filters, rrf_k=self.rrf_k)
        hits = [
            Hit(h.model_id, h.score + popularity_bonus(h.payload.get("downloads"), self.prior, self.rrf_k), h.payload)
            for h in fused
        ]
        hits.sort(key=score_key)  # the engine's tie-break, so truncating to k keeps the same ties
        return hits[:k]
