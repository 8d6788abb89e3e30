"""The one small interface every Qdrant backend implements, and the types it speaks.

Two backends: :mod:`hfmrs.store.edge` (Qdrant Edge, in-process, the default) and
:mod:`hfmrs.store.server` (a Qdrant server or cluster through qdrant-client).  Recommenders and
services only ever see :class:`ModelStore`.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# Named vectors of every point.
TEXT = "text"  # dense: the soup's embedding
GNN = "gnn"  # dense: GNN-refined vectors (see hfmrs.training)
TOKENS = "tokens"  # sparse: binary feature tokens (Jaccard candidates)
BM25 = "bm25"  # sparse: soup words with BM25 term weights (IDF applied by Qdrant)

# Payload fields with an index: exactly the ones a query filters on (Filters) or a formula reads
# (`token_count`, Jaccard).  Sorting happens on hits in Python, so sort fields need none.  Every index
# is loaded into RAM when a build opens: at 17.5k models the six that nothing queried (id, aliases,
# base_model_ids, likes, download_velocity, last_modified) cost a quarter of Qdrant Edge's load time
# (median 260 -> 200 ms), and RAM and build time with it.
KEYWORD_FIELDS = ("pipeline_tag", "library", "license", "author")
# Integer fields: (name, exact-match look-up, range) — only the structure each is queried with, since
# Qdrant builds and loads both by default: `downloads` is filtered by range, `cluster` matched exactly,
# `token_count` read by the Jaccard formula (a few hundred distinct values: the small look-up map).
INTEGER_FIELDS = (("downloads", False, True), ("cluster", True, False), ("token_count", True, False))
# params_billions: the "at most N billion parameters" filter; the two memory fields: the fits filter
# (hfmrs.sizes.memory_fields: one is set for a model of known size, by how its weights are stored).
FLOAT_FIELDS = ("params_billions", "fp_params_billions", "quantized_weights_gb")
DATETIME_FIELDS: tuple[str, ...] = ()

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
class Filters:
    """Payload conditions pushed down into Qdrant, so k results come back even under filters."""

    pipeline_tag: str | None = None
    library: str | None = None
    license: str | None = None
    author: str | None = None
    min_downloads: int | None = None
    cluster: int | None = None
    max_params_billions: float | None = None
    # Fits in this many GB: full-precision weights loaded at `dtype`, quantized ones at their own format.
    fits_in_gb: float | None = None
    dtype: str = "fp16"
    size_unknown: bool = False  # only models without a size (to count what a size filter leaves out)
    exclude: tuple[str, ...] = ()  # canonical model ids never returned (the query itself)

    def __post_init__(self) -> None:
        if self.fits_in_gb is not None:  # fail on a bad size or dtype here, before any store is asked
            from hfmrs.sizes import params_limit_for_memory

            params_limit_for_memory(self.fits_in_gb, self.dtype)  # type: ignore[arg-type]

    def with_exclude(self, *model_ids: str) -> Filters:
        return Filters(**{**self.__dict__, "exclude": tuple(dict.fromkeys([*self.exclude, *model_ids]))})

    @property
    def sized(self) -> bool:
        """Whether a condition reads the model's size (so models of unknown size are left out)."""
        return self.fits_in_gb is not None or self.max_params_billions is not None

    def without_size(self) -> Filters:
        """The same conditions without those on size."""
        return dataclasses.replace(self, fits_in_gb=None, max_params_billions=None, size_unknown=False)

    def fits_limits(self) -> tuple[float, float] | None:
        """(largest fp_params_billions, largest quantized_weights_gb) that fit, or None without fits_in_gb."""
        if self.fits_in_gb is None:
            return None
        from hfmrs.sizes import params_limit_for_memory, quantized_limit_for_memory

        return (
            params_limit_for_memory(self.fits_in_gb, self.dtype),  # type: ignore[arg-type]
            quantized_limit_for_memory(self.fits_in_gb),
        )

    def keyword_conditions(self) -> dict[str, str]:
        pairs = {
            "pipeline_tag": self.pipeline_tag,
            "library": self.library,
            "license": self.license,
            "author": self.author,
        }
        return {k: v for k, v in pairs.items() if v is not None}

    def matches(self, payload: dict[str, Any]) -> bool:
        """The same conditions evaluated in Python (for reference implementations and tests)."""
        if payload["id"] in self.exclude:
            return False
        if any(payload.get(k) != v for k, v in self.keyword_conditions().items()):
            return False
        if self.min_downloads is not None and (payload.get("downloads") or 0) < self.min_downloads:
            return False
        if self.cluster is not None and payload.get("cluster") != self.cluster:
            return False
        if self.max_params_billions is not None:
            params = payload.get("params_billions")
            if params is None or params > self.max_params_billions:
                return False
        if (limits := self.fits_limits()) is not None:
            fp, quantized = payload.get("fp_params_billions"), payload.get("quantized_weights_gb")
            if not ((fp is not None and fp <= limits[0]) or (quantized is not None and quantized <= limits[1])):
                return False
        return not (self.size_unknown and payload.get("params_billions") is not None)


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
