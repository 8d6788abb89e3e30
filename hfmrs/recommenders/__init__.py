"""Recommendation methods, one module each, all following :class:`~hfmrs.recommenders.base.Recommender`."""

from __future__ import annotations

from collections.abc import Callable

from hfmrs.recommenders.base import Recommender
from hfmrs.recommenders.cosine import CosineRecommender
from hfmrs.recommenders.jaccard import JaccardRecommender
from hfmrs.settings import Settings
from hfmrs.store.base import ModelStore

# name -> factory(store, settings); the order is the order methods are listed in the API and UI.
METHODS: dict[str, Callable[[ModelStore, Settings], Recommender]] = {
    "cosine": lambda store, settings: CosineRecommender(store),
    "jaccard": lambda store, settings: JaccardRecommender(store, candidates=settings.jaccard_candidates),
}


def make_recommenders(store: ModelStore, settings: Settings) -> dict[str, Recommender]:
    return {name: factory(store, settings) for name, factory in METHODS.items()}


__all__ = ["METHODS", "Recommender", "make_recommenders"]
