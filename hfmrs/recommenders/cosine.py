"""`cosine`: Qdrant nearest-neighbour search on the `text` named vector (soup embeddings)."""

from __future__ import annotations

from hfmrs.filters import Filters
from hfmrs.recommenders.base import Recommender
from hfmrs.store.base import TEXT, Hit, PointData


class CosineRecommender(Recommender):
    name = "cosine"
    bounded_score = True
    description = "Cosine similarity of the soup embeddings (Qdrant ANN on the `text` vector)."
    needs_vectors = (TEXT,)

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        return self.store.search(TEXT, query.vectors[TEXT], k, filters)
