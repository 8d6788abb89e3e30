"""Qdrant Edge backend: the real Qdrant engine in-process, one shard directory per build."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from hfmrs.filters import AnyOf, Condition, Filters, Index, Match, Range
from hfmrs.store.base import (
    HIT_FIELDS,
    QUANTIZED_OVERSAMPLING,
    Hit,
    PointData,
    Search,
    SparseVector,
    Vector,
    VectorSpec,
    index_specs,
    point_id,
)
from hfmrs.store.cards import HitCards

log = logging.getLogger(__name__)


def _index_schema(index: Index) -> Any:
    if index.kind == "keyword":
        return qe.PayloadSchemaType.Keyword
    if index.kind == "integer":
        return qe.IntegerIndexParams(lookup=index.lookup, range=index.range)
    return qe.PayloadSchemaType.Float


# A build's upserts go into one in-memory appendable segment until optimize() turns it into an indexed,
# memory-mapped one; Qdrant Edge never does that by itself.  Rolling a segment every SEGMENT_POINTS
# points bounds the appendable segment and builds HNSW over smaller graphs (100k models: 177 s with
# 25k-point segments vs 239 s in one).  It does not bound the whole heap: Edge still keeps ~5-6 KB a
# point after optimize (measured at 90k and 1M; see benchmarks/README.md).  Segments are kept at about
# that size (no merge into one giant segment, whose HNSW rebuild would double the indexing time); a
# query searches them all.
SEGMENT_POINTS = 250_000
INDEXING_THRESHOLD_KB: int | None = None  # Qdrant's default (segments smaller than this stay plain)

_OPEN: dict[Path, EdgeStore] = {}
_OPEN_LOCK = threading.Lock()


def _vector(value: Vector) -> Any:
    if isinstance(value, SparseVector):
        return qe.SparseVector(indices=list(value.indices), values=list(value.values))
    if isinstance(value, list):  # as retrieved from Qdrant: already Python floats
        return value
    return [float(x) for x in value]


def _from_edge_vector(value: Any) -> Vector:
    if isinstance(value, qe.SparseVector):
        return SparseVector(indices=list(value.indices), values=list(value.values))
    return list(value)


_HIT_PAYLOAD = list(HIT_FIELDS)
_DENSE_SEARCH = qe.SearchParams(
    quantization=qe.QuantizationSearchParams(rescore=True, oversampling=QUANTIZED_OVERSAMPLING)
)


def _quantization(spec: VectorSpec) -> Any:
    if spec.quantization == "int8":
        return qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)
    return None


def _search_params(vector: Vector) -> qe.SearchParams | None:
    return None if isinstance(vector, SparseVector) else _DENSE_SEARCH


def edge_condition(condition: Condition) -> Any:
    """A neutral filter condition (hfmrs.filters) as Qdrant Edge speaks it."""
    if isinstance(condition, Match):
        return qe.FieldCondition(key=condition.key, match=qe.MatchValue(condition.value))
    if isinstance(condition, Range):
        gte = None if condition.gte is None else float(condition.gte)
        lte = None if condition.lte is None else float(condition.lte)
        return qe.FieldCondition(key=condition.key, range=qe.RangeFloat(gte=gte, lte=lte))
    if isinstance(condition, AnyOf):
        return qe.Filter(should=[edge_condition(c) for c in condition.conditions])
    return qe.IsEmptyCondition(key=condition.key)


def edge_filter(filters: Filters | None) -> qe.Filter | None:
    if filters is None:
        return None
    must = [edge_condition(c) for c in filters.conditions()]
    must_not = [qe.HasIdCondition({point_id(m) for m in filters.exclude})] if filters.exclude else []
    if not must and not must_not:
        return None
    return qe.Filter(must=must or None, must_not=must_not or None)


class EdgeStore:
    """A :class:`~hfmrs.store.base.ModelStore` over one Qdrant Edge shard directory."""

    def __init__(self, shard: qe.EdgeShard, path: Path):
        self._shard = shard
        self.path = path
        # Edge shards are thread-safe for reads; writes are serialised here so a build's writer
        # threads never interleave half-applied batches.
        self._write_lock = threading.Lock()
        self._users = 1
        self._cards: HitCards | None = None
        self._unindexed = 0  # points upserted since the last optimize()

    def attach_cards(self, cards: HitCards | None) -> None:
        """Serve hit payloads from the build's cards (see :mod:`hfmrs.store.cards`)."""
        self._cards = cards

    @property
    def _hit_payload(self) -> Any:
        return False if self._cards is not None else _HIT_PAYLOAD

    def _hits(self, points: Sequence[Any]) -> list[Hit]:
        if self._cards is None:
            payloads = [p.payload for p in points]  # each access converts the payload: read it once
        else:
            payloads = self._cards.payloads([p.id for p in points])
            if any(payload is None for payload in payloads):  # never expected: fall back to Qdrant
                stored = {
                    str(r.id): r.payload for r in self._shard.retrieve([p.id for p in points], _HIT_PAYLOAD, False)
                }
                payloads = [payload or stored[str(p.id)] for payload, p in zip(payloads, points, strict=True)]
        return [
            Hit(model_id=payload["id"], score=float(p.score), payload=payload)
            for payload, p in zip(payloads, points, strict=True)
        ]

    @classmethod
    def create(cls, path: Path, dense: Sequence[VectorSpec], sparse: Sequence[str]) -> EdgeStore:
        path.mkdir(parents=True, exist_ok=True)
        config = qe.EdgeConfig(
            vectors={
                v.name: qe.EdgeVectorParams(
                    size=v.size, distance=qe.Distance.Cosine, quantization_config=_quantization(v)
                )
                for v in dense
            },
            sparse_vectors={
                name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf if name == "bm25" else None) for name in sparse
            },
            # Payloads memory-mapped without pre-warming: a 1M-model build would otherwise read its
            # ~5 GB of payloads at every start-up.  Measured at 17.5k: same query latency as Cached
            # once pages are in the page cache (p50 0.76 vs 0.78 ms with full payload).
            payload_memory=qe.Memory.Cold,
            # Max segment size in KB of vectors: a rolled segment is not merged with another.
            optimizers=qe.EdgeOptimizersConfig(
                max_segment_size=max(1, SEGMENT_POINTS * sum(v.size for v in dense) * 4 // 1024),
                default_segment_number=0,
                indexing_threshold=INDEXING_THRESHOLD_KB,
            ),
        )
        shard = qe.EdgeShard.create(str(path), config)
        store = cls(shard, path)
        with _OPEN_LOCK:
            _OPEN[path.resolve()] = store
        for field_name, schema in ((i.key, _index_schema(i)) for i in index_specs()):
            shard.update(qe.UpdateOperation.create_field_index(field_name, schema))
        return store

    @classmethod
    def open(cls, path: Path) -> EdgeStore:
        """Open a shard, sharing the handle with other users in this process.

        Only one EdgeShard may hold a directory, so services running in one process (the
        recommender serving a build, the embedder job writing to it) share one handle; it is closed
        when its last user closes it.
        """
        key = path.resolve()
        with _OPEN_LOCK:
            if key in _OPEN:
                store = _OPEN[key]
                store._users += 1
                return store
            if not path.exists():
                raise FileNotFoundError(f"no Qdrant Edge shard at {path}")
            store = cls(qe.EdgeShard.load(str(path)), path)
            _OPEN[key] = store
            return store

    # -- writes ------------------------------------------------------------------------------------
    def upsert(self, points: Sequence[PointData]) -> None:
        edge_points = [
            qe.Point(id=point_id(p.id), vector={k: _vector(v) for k, v in p.vectors.items()}, payload=p.payload)
            for p in points
        ]
        with self._write_lock:
            self._shard.update(qe.UpdateOperation.upsert_points(edge_points))
            self._unindexed += len(edge_points)
            if self._unindexed >= SEGMENT_POINTS:
                self._shard.optimize()  # index this segment and start a new one (bounded build memory)
                self._unindexed = 0

    def set_vectors(self, vectors: dict[str, dict[str, Vector]]) -> None:
        ops = [
            qe.PointVectors(id=point_id(model_id), vector={k: _vector(v) for k, v in named.items()})
            for model_id, named in vectors.items()
        ]
        with self._write_lock:
            self._shard.update(qe.UpdateOperation.update_vectors(ops))

    def set_payload(self, model_ids: Sequence[str], payload: dict[str, Any]) -> None:
        if self._cards is not None and not set(payload).isdisjoint(HIT_FIELDS):
            self._cards = None  # the cards would go stale: read hit fields from Qdrant from now on
        with self._write_lock:
            self._shard.update(qe.UpdateOperation.set_payload([point_id(m) for m in model_ids], payload))

    def optimize(self) -> None:
        with self._write_lock:
            self._shard.optimize()
            self._shard.flush()
            self._unindexed = 0

    def close(self) -> None:
        with _OPEN_LOCK:
            self._users -= 1
            if self._users > 0:
                return
            _OPEN.pop(self.path.resolve(), None)
        self._shard.close()

    # -- reads -------------------------------------------------------------------------------------
    def retrieve(self, model_ids: Sequence[str], with_vectors: Sequence[str] = ()) -> list[PointData]:
        ids = [point_id(m) for m in model_ids]
        records = self._shard.retrieve(ids, with_payload=True, with_vector=list(with_vectors) or False)
        by_id = {str(r.id): r for r in records}
        out = []
        for pid in ids:
            if (record := by_id.get(pid)) is not None:
                out.append(self._point(record, with_vectors))
        return out

    @staticmethod
    def _point(record: Any, with_vectors: Sequence[str]) -> PointData:
        vectors = {}
        if with_vectors and isinstance(record.vector, dict):
            vectors = {k: _from_edge_vector(v) for k, v in record.vector.items() if k in with_vectors}
        payload = record.payload or {}
        return PointData(id=payload.get("id", ""), payload=payload, vectors=vectors)

    def _request(self, search: Search) -> qe.QueryRequest:
        return qe.QueryRequest(
            limit=search.limit,
            query=qe.Query.Nearest(_vector(search.vector), using=search.using),
            filter=edge_filter(search.filters),
            with_payload=self._hit_payload,
            with_vector=False,
            params=_search_params(search.vector),
        )

    def search(self, using: str, vector: Vector, limit: int, filters: Filters | None = None) -> list[Hit]:
        return self._hits(self._shard.query(self._request(Search(using, vector, limit, filters))))

    def search_many(self, searches: Sequence[Search]) -> list[list[Hit]]:
        nearest = [i for i, s in enumerate(searches) if s.order_by is None]
        found: list[Any] = [None] * len(searches)
        if nearest:
            requests = [self._request(searches[i]) for i in nearest]
            for i, points in zip(nearest, self._shard.query_batch(qe.QueryBatchRequest(queries=requests)), strict=True):
                found[i] = [(p.id, float(p.score)) for p in points]
        for i, search in enumerate(searches):
            if search.order_by is not None:
                request = qe.ScrollRequest(
                    limit=search.limit,
                    filter=edge_filter(search.filters),
                    with_payload=self._hit_payload,
                    with_vector=False,
                    order_by=qe.OrderBy(key=search.order_by, direction=qe.Direction.Desc),
                )
                records, _ = self._shard.scroll(request)
                found[i] = [(r.id, None, r) for r in records]
        return self._many_hits(found, searches)

    def _many_hits(self, found: list[Any], searches: Sequence[Search]) -> list[list[Hit]]:
        """Hits of several result lists, each distinct point's payload read once.  Point ids stay the
        engine's UUID objects (hashable; the cards read their bytes): a string each would cost more."""
        unique = list(dict.fromkeys(entry[0] for points in found for entry in points))
        cards = self._cards.payloads(unique) if self._cards is not None else [None] * len(unique)
        decoded = dict(zip(unique, cards, strict=True))
        missing = [u for u in unique if decoded.get(u) is None]
        if missing:  # no cards (or, never expected, a point the cards lack): ask Qdrant
            stored = {str(r.id): r.payload for r in self._shard.retrieve(missing, _HIT_PAYLOAD, False)}
            decoded.update((u, stored[str(u)]) for u in missing)
        out = []
        for search, points in zip(searches, found, strict=True):
            hits = []
            for entry in points:
                payload = decoded[entry[0]]
                score = entry[1] if entry[1] is not None else float(payload.get(search.order_by) or 0)
                hits.append(Hit(model_id=payload["id"], score=score, payload=payload))
            out.append(hits)
        return out

    def fused_search(
        self,
        prefetches: Sequence[tuple[str, Vector, int]],
        weights: Sequence[float],
        limit: int,
        filters: Filters | None = None,
        rrf_k: int = 60,
    ) -> list[Hit]:
        """Several named-vector searches fused by (weighted) reciprocal rank fusion, inside Qdrant."""
        flt = edge_filter(filters)
        request = qe.QueryRequest(
            limit=limit,
            prefetches=[
                qe.Prefetch(
                    limit=n,
                    query=qe.Query.Nearest(_vector(v), using=name),
                    filter=flt,
                    params=_search_params(v),
                )
                for name, v, n in prefetches
            ],
            query=qe.Fusion.Rrf(k=rrf_k, weights=list(weights)),
            filter=flt,
            with_payload=self._hit_payload,
            with_vector=False,
        )
        return self._hits(self._shard.query(request))

    def jaccard_search(self, tokens: SparseVector, pool: int, limit: int, filters: Filters | None = None) -> list[Hit]:
        shared = qe.Expression.Variable("$score")
        union = qe.Expression.Sum(
            [
                qe.Expression.Constant(float(len(tokens.indices))),
                qe.Expression.Variable("token_count"),
                qe.Expression.Neg(shared),
            ]
        )
        flt = edge_filter(filters)
        request = qe.QueryRequest(
            limit=limit,
            prefetches=[qe.Prefetch(limit=pool, query=qe.Query.Nearest(_vector(tokens), using="tokens"), filter=flt)],
            query=qe.Formula(qe.Expression.Div(shared, union, by_zero_default=0.0)),
            filter=flt,
            with_payload=self._hit_payload,
            with_vector=False,
        )
        return self._hits(self._shard.query(request))

    def scroll(
        self, fields: Sequence[str] | None = None, with_vectors: Sequence[str] = (), batch: int = 1000
    ) -> Iterator[PointData]:
        offset = None
        with_payload: Any = list(fields) if fields is not None else True
        if fields is not None and "id" not in fields:
            with_payload = [*fields, "id"]
        while True:
            records, offset = self._shard.scroll(
                qe.ScrollRequest(
                    offset=offset, limit=batch, with_payload=with_payload, with_vector=list(with_vectors) or False
                )
            )
            for record in records:
                yield self._point(record, with_vectors)
            if offset is None:
                return

    def count(self, filters: Filters | None = None) -> int:
        return int(self._shard.count(qe.CountRequest(filter=edge_filter(filters), exact=True)))
