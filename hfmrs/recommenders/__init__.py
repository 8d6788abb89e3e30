"""Recommendation methods, one module each, all following :class:`~hfmrs.recommenders.base.Recommender`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hfmrs.recommenders.base import Recommender
from hfmrs.recommenders.bm25 import Bm25Recommender
from hfmrs.recommenders.cosine import CosineRecommender
from hfmrs.recommenders.fused import fused_from_manifest
from hfmrs.recommenders.gnn import GnnRecommender
from hfmrs.recommenders.hybrid import HybridRecommender
from hfmrs.recommenders.jaccard import JaccardRecommender
from hfmrs.recommenders.kmeans import KMeansRecommender
from hfmrs.settings import Settings
from hfmrs.store.base import ModelStore

# name -> factory(store, settings, manifest); the order is the order methods are listed in the API and UI.
# The manifest is the serving build's (hfmrs.pipeline): methods that need trained artefacts read it, and
# report available() = False on a build made without training, so the engine hides them.
Factory = Callable[[ModelStore, Settings, dict[str, Any]], Recommender]
METHODS: dict[str, Factory] = {
    "cosine": lambda store, settings, manifest: CosineRecommender(store),
    "jaccard": lambda store, settings, manifest: JaccardRecommender(store, candidates=settings.jaccard_candidates),
    "bm25": lambda store, settings, manifest: Bm25Recommender(store),
    "kmeans": lambda store, settings, manifest: KMeansRecommender(store, manifest),
    "gnn": lambda store, settings, manifest: GnnRecommender(store, manifest),
    "hybrid": HybridRecommender.from_manifest,
    "fused": fused_from_manifest,
}


def make_recommenders(store: ModelStore, settings: Settings, manifest: dict[str, Any]) -> dict[str, Recommender]:
    return {name: factory(store, settings, manifest) for name, factory in METHODS.items()}


__all__ = ["METHODS", "Recommender", "make_recommenders"]
