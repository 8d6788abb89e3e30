"""The one small interface every Qdrant backend implements, and the types it speaks.

Two backends: :mod:`hfmrs.store.edge` (Qdrant Edge, in-process, the default) and
:mod:`hfmrs.store.server` (a Qdrant server or cluster through qdrant-client).  Recommenders and
services only ever see :class:`ModelStore`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from hfmrs.filters import Filters, Index, payload_indexes

# Named vectors of every point.
TEXT = "text"  # dense: the soup's embedding
GNN = "gnn"  # dense: GNN-refined vectors (see hfmrs.training)
TOKENS = "tokens"  # sparse: binary feature tokens (Jaccard candidates)
BM25 = "bm25"  # sparse: soup words with BM25 term weights (IDF applied by Qdrant)


# Payload fields with an index: exactly the ones a filter condition reads (hfmrs.filters declares each
# field's indexes) and `token_count`, which the Jaccard formula reads (a few hundred distinct values: a
# look-up map).  Sorting happens on hits in Python, so sort fields need none.  Every index is loaded into
# RAM when a build opens: at 17.5k models six indexes that nothing queried cost a quarter of Qdrant Edge's
# load time (median 260 -> 200 ms), and RAM and build time with it.
def index_specs() -> list[Index]:
    """The payload indexes a new build creates (read when it is created, so they follow the field table)."""
    return [*payload_indexes(), Index("token_count", "integer", range=False)]


# The payload fields a search hit carries: what results show, explain (hfmrs.explain), sort and
# diversify by.  Hits never carry the soup or token lists: decoding less payload per hit is most of
# what a query costs after the vector search itself.
HIT_FIELDS = (
    "id",
    "aliases",
    "author",
    "downloads",
    "likes",
    "download_velocity",
    "last_modified",
    "pipeline_tag",
    "library",
    "model_type",
    "architectures",
    "base_model_ids",
    "datasets",
    "languages",
    "arxiv",
    "tags",
    "license",
    "params_billions",
    "params_source",
    "weight_format",
    "leaderboard_average",
    "purposes",
    "family",
    "stem",
    "copy",
    "test_copy",
    "quality",
    "formats",
)

# Candidates a quantized search rescores on the originals, as a multiple of the limit.  Sent with every
# dense search: Qdrant ignores it for vectors without quantization.  2x kept recall@10 at 0.999 for 1M
# int8-quantized MiniLM vectors (benchmarks/README.md).
QUANTIZED_OVERSAMPLING = 2.0
QUANTIZATIONS = ("none", "int8")  # what a VectorSpec may ask for (HFMRS_TEXT_QUANTIZATION's choices)

_NAMESPACE = uuid.UUID("6f2b7c1e-4d0a-5b8e-9c3f-2a1d0e7b6c54")


@functools.lru_cache(maxsize=65_536)
def point_id(model_id: str) -> str:
    """A stable point id (UUID5) derived from the canonical model id."""
    return str(uuid.uuid5(_NAMESPACE, model_id))


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


Vector = list[float] | SparseVector


@dataclass
class PointData:
    id: str  # canonical model id; the backend derives the point id
    payload: dict[str, Any]
    vectors: dict[str, Vector] = field(default_factory=dict)


@dataclass
class Hit:
    model_id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class Search:
    """One search of :meth:`ModelStore.search_many`: nearest neighbours on the named vector ``using``, or,
    with ``order_by`` (a range-indexed payload field) and no vector, the points with its largest values."""

    using: str
    vector: Vector | None
    limit: int
    filters: Filters | None = None
    order_by: str | None = None


class RankedListCache:
    """Results of searches that do not depend on the query's vector, such as the most downloaded models of
    a purpose (``order_by`` searches), kept per open build: the same list serves every request that asks.
    Keyed without the excluded ids (the caller drops its query from the list); the oldest is evicted."""

    def __init__(self, store: ModelStore, size: int):
        self.store, self.size = store, size
        self._lists: dict[Search, list[Hit]] = {}

    def __call__(self, search: Search) -> list[Hit]:
        key = replace(search, filters=Filters(**search.filters.values) if search.filters else None)
        hits = self._lists.get(key)
        if hits is None:
            hits = self.store.search_many([key])[0]
            if len(self._lists) >= self.size:
                self._lists.pop(next(iter(self._lists)))
            self._lists[key] = hits
        return hits

    def clear(self) -> None:
        self._lists.clear()


@dataclass(frozen=True)
class VectorSpec:
    name: str
    size: int
    # "int8": Qdrant keeps an int8 scalar-quantized copy in RAM, searches it and rescores the best
    # candidates on the float32 originals (see QUANTIZED_OVERSAMPLING).
    quantization: str = "none"

    def __post_init__(self) -> None:  # checked once here, so neither backend adapter repeats it
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"unknown quantization {self.quantization!r}; choose one of: {', '.join(QUANTIZATIONS)}")


class ModelStore(Protocol):
    """One collection (or Edge shard) of model points."""

    def upsert(self, points: Sequence[PointData]) -> None: ...

    def set_vectors(self, vectors: dict[str, dict[str, Vector]]) -> None:
        """model id -> {vector name -> vector}; the points must exist."""
        ...

    def set_payload(self, model_ids: Sequence[str], payload: dict[str, Any]) -> None: ...

    def retrieve(self, model_ids: Sequence[str], with_vectors: Sequence[str] = ()) -> list[PointData]:
        """Points in the order asked for; unknown ids are left out."""
        ...

    def search(self, using: str, vector: Vector, limit: int, filters: Filters | None = None) -> list[Hit]:
        """Nearest neighbours on one named vector, best first."""
        ...

    def search_many(self, searches: Sequence[Search]) -> list[list[Hit]]:
        """Several searches at once: a result list per search, in order (an ``order_by`` search scores
        a hit by that field's value).  Vector searches run as one batch; a point found by several
        searches has its payload read once."""
        ...

    def fused_search(
        self,
        prefetches: Sequence[tuple[str, Vector, int]],
        weights: Sequence[float],
        limit: int,
        filters: Filters | None = None,
        rrf_k: int = 60,
    ) -> list[Hit]:
        """Several named-vector searches ``(vector name, vector, candidates)`` fused by weighted reciprocal
        rank fusion inside Qdrant, best first (the hybrid method's one query)."""
        ...

    def jaccard_search(self, tokens: SparseVector, pool: int, limit: int, filters: Filters | None = None) -> list[Hit]:
        """Exact Jaccard over a candidate pool, inside Qdrant.

        The pool is the ``pool`` best points by shared tokens (dot product of binary `tokens` vectors);
        a formula rescores each as |A∩B| / (|A| + |B| - |A∩B|) with |B| the `token_count` payload field.
        """
        ...

    def scroll(
        self, fields: Sequence[str] | None = None, with_vectors: Sequence[str] = (), batch: int = 1000
    ) -> Iterator[PointData]: ...

    def count(self, filters: Filters | None = None) -> int: ...

    def optimize(self) -> None: ...

    def attach_cards(self, cards: Any) -> None:
        """Serve hit payloads from the build's :class:`hfmrs.store.cards.HitCards` where that is faster."""
        ...

    def close(self) -> None: ...
