"""`kmeans`: cosine search inside the query's k-means cluster (a Qdrant payload filter on `cluster`).

The seed's method, pushed down into Qdrant: the cluster id is an indexed payload field written by the
training job (:mod:`hfmrs.training.kmeans`), so the filtered search still returns k hits whenever the
cluster has k matching models.  When it has fewer (small cluster, strict filters), the list is filled
from the global cosine ranking; filled hits score ``cosine - FILL_PENALTY`` so they always rank below
every in-cluster hit (cosine is in [-1, 1]) and a reader can tell them apart (negative scores).
"""

from __future__ import annotations

from typing import Any

from hfmrs.filters import Filters
from hfmrs.recommenders.base import Recommender
from hfmrs.store.base import TEXT, Hit, ModelStore, PointData

FILL_PENALTY = 2.0


class KMeansRecommender(Recommender):
    name = "kmeans"
    bounded_score = True
    description = "Cosine similarity within the query's k-means cluster (Qdrant payload filter), filled globally."
    needs_vectors = (TEXT,)

    def __init__(self, store: ModelStore, manifest: dict[str, Any]):
        super().__init__(store)
        self.k_clusters = int((manifest.get("training") or {}).get("kmeans", {}).get("k") or 0)

    def available(self) -> bool:
        return self.k_clusters > 0

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        vector = query.vectors.get(TEXT)
        if vector is None:
            return []
        cluster = query.payload.get("cluster")
        hits: list[Hit] = []
        if cluster is not None and filters.cluster is None:  # a caller's own cluster filter wins
            hits = self.store.search(TEXT, vector, k, filters.replace(cluster=int(cluster)))
        elif filters.cluster is not None:
            return self.store.search(TEXT, vector, k, filters)
        if len(hits) < k:
            fill = self.store.search(TEXT, vector, k - len(hits), filters.with_exclude(*(h.model_id for h in hits)))
            hits += [Hit(h.model_id, h.score - FILL_PENALTY, h.payload) for h in fill]
        return hits
