"""`gnn`: nearest neighbours on the `gnn` named vector (GraphSAGE embeddings, :mod:`hfmrs.training.gnn`).

The vectors mix each model's text embedding with its graph neighbourhood: lineage (train edges only),
family and text-kNN links.  A model added after training (live ingest) has no `gnn` vector yet; its
query falls back to the `text` vector so the method still answers, and such models are simply not
candidates until the next training.
"""

from __future__ import annotations

import logging
from typing import Any

from hfmrs.filters import Filters
from hfmrs.recommenders.base import Recommender
from hfmrs.store.base import GNN, TEXT, Hit, ModelStore, PointData

log = logging.getLogger(__name__)


class GnnRecommender(Recommender):
    name = "gnn"
    bounded_score = True
    description = "Nearest neighbours on GNN-refined vectors (GraphSAGE over lineage, family and kNN edges)."
    needs_vectors = (GNN, TEXT)

    def __init__(self, store: ModelStore, manifest: dict[str, Any]):
        super().__init__(store)
        self.trained = bool((manifest.get("training") or {}).get("gnn"))

    def available(self) -> bool:
        return self.trained

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        if (vector := query.vectors.get(GNN)) is not None:
            return self.store.search(GNN, vector, k, filters)
        log.debug("%s has no gnn vector (added after training); using its text vector", query.id)
        if (vector := query.vectors.get(TEXT)) is not None:
            return self.store.search(TEXT, vector, k, filters)
        return []
