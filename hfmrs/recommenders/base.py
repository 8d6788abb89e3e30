"""The one recommender contract every method follows.

A method gets the query model's point (payload and vectors) and returns up to ``k`` hits that satisfy
``filters`` (which already exclude the query and its aliases), best first.  Id resolution, sorting,
tie-breaking and explanations are the engine's job, identical for every method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from hfmrs.filters import Filters
from hfmrs.store.base import Hit, ModelStore, PointData


class Recommender(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    needs_vectors: ClassVar[tuple[str, ...]] = ()  # named vectors of the query point the method reads
    # Share of the first page `relation=all` keeps for alternatives (hfmrs.relations.ALTERNATIVES_SHARE);
    # 0 for the single-signal methods, whose lists stay their raw ranking (and are evaluated as such).
    alternatives_share: ClassVar[float] = 0.0
    # Scores from 0 to 1 where 1 is identical (cosine, Jaccard): shown as a match as they are; others
    # (BM25, rank fusions) relative to the list's best (hfmrs.ranking.match_percents).
    bounded_score: ClassVar[bool] = False

    def __init__(self, store: ModelStore):
        self.store = store

    @abstractmethod
    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        """Up to ``k`` hits for ``query``, best first, none of them excluded by ``filters``."""

    def available(self) -> bool:
        """Whether the build holds what this method needs (e.g. trained `gnn` vectors)."""
        return True
