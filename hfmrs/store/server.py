"""Qdrant server/cluster backend through qdrant-client: a thin adapter with the same contract as Edge.

Each build is its own collection (``<alias>-<build id>``); the alias the services read is moved to a
completed build in one atomic alias operation.  The contract tests also run this adapter against
qdrant-client's in-process local mode (``QdrantClient(":memory:")``), which speaks the same API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm

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

log = logging.getLogger(__name__)


def _index_schema(index: Index) -> Any:
    if index.kind == "keyword":
        return qm.PayloadSchemaType.KEYWORD
    if index.kind == "integer":
        return qm.IntegerIndexParams(type=qm.IntegerIndexType.INTEGER, lookup=index.lookup, range=index.range)
    return qm.PayloadSchemaType.FLOAT


_DENSE_SEARCH = qm.SearchParams(
    quantization=qm.QuantizationSearchParams(rescore=True, oversampling=QUANTIZED_OVERSAMPLING)
)


def _quantization(spec: VectorSpec) -> Any:
    if spec.quantization == "int8":
        return qm.ScalarQuantization(
            scalar=qm.ScalarQuantizationConfig(type=qm.ScalarType.INT8, quantile=0.99, always_ram=True)
        )
    return None


def _search_params(vector: Vector) -> qm.SearchParams | None:
    return None if isinstance(vector, SparseVector) else _DENSE_SEARCH


def _vector(value: Vector) -> Any:
    if isinstance(value, SparseVector):
        return qm.SparseVector(indices=list(value.indices), values=list(value.values))
    return [float(x) for x in value]


def _from_vector(value: Any) -> Vector:
    if isinstance(value, qm.SparseVector):
        return SparseVector(indices=list(value.indices), values=list(value.values))
    return list(value)


def server_condition(condition: Condition) -> Any:
    """A neutral filter condition (hfmrs.filters) as qdrant-client speaks it."""
    if isinstance(condition, Match):
        return qm.FieldCondition(key=condition.key, match=qm.MatchValue(value=condition.value))
    if isinstance(condition, Range):
        return qm.FieldCondition(key=condition.key, range=qm.Range(gte=condition.gte, lte=condition.lte))
    if isinstance(condition, AnyOf):
        return qm.Filter(should=[server_condition(c) for c in condition.conditions])
    return qm.IsEmptyCondition(is_empty=qm.PayloadField(key=condition.key))


def server_filter(filters: Filters | None) -> qm.Filter | None:
    if filters is None:
        return None
    must = [server_condition(c) for c in filters.conditions()]
    must_not = [qm.HasIdCondition(has_id=[point_id(m) for m in filters.exclude])] if filters.exclude else []
    if not must and not must_not:
        return None
    return qm.Filter(must=must or None, must_not=must_not or None)


class ServerStore:
    """A :class:`~hfmrs.store.base.ModelStore` over one collection of a Qdrant server or cluster."""

    def __init__(self, client: QdrantClient, collection: str):
        self.client = client
        self.collection = collection

    def attach_cards(self, cards: Any) -> None:
        """Nothing to do: the server sends only HIT_FIELDS over the wire, and a query's cost here is the
        round trip, not payload decoding (the reason Qdrant Edge builds serve hits from cards)."""

    @classmethod
    def create(
        cls,
        client: QdrantClient,
        collection: str,
        dense: Sequence[VectorSpec],
        sparse: Sequence[str],
        shard_number: int = 1,
        replication_factor: int = 1,
    ) -> ServerStore:
        client.create_collection(
            collection,
            vectors_config={
                v.name: qm.VectorParams(size=v.size, distance=qm.Distance.COSINE, quantization_config=_quantization(v))
                for v in dense
            },
            sparse_vectors_config={
                name: qm.SparseVectorParams(modifier=qm.Modifier.IDF if name == "bm25" else None) for name in sparse
            },
            shard_number=shard_number,
            replication_factor=replication_factor,
        )
        for field_name, schema in ((i.key, _index_schema(i)) for i in index_specs()):
            client.create_payload_index(collection, field_name, field_schema=schema, wait=True)
        return cls(client, collection)

    def upsert(self, points: Sequence[PointData]) -> None:
        self.client.upsert(
            self.collection,
            points=[
                qm.PointStruct(
                    id=point_id(p.id), vector={k: _vector(v) for k, v in p.vectors.items()}, payload=p.payload
                )
                for p in points
            ],
            wait=True,
        )

    def set_vectors(self, vectors: dict[str, dict[str, Vector]]) -> None:
        self.client.update_vectors(
            self.collection,
            points=[
                qm.PointVectors(id=point_id(m), vector={k: _vector(v) for k, v in named.items()})
                for m, named in vectors.items()
            ],
            wait=True,
        )

    def set_payload(self, model_ids: Sequence[str], payload: dict[str, Any]) -> None:
        self.client.set_payload(self.collection, payload=payload, points=[point_id(m) for m in model_ids], wait=True)

    def optimize(self) -> None:
        """The server optimises in the background; nothing to wait for."""

    def close(self) -> None:
        """The client is shared by the builds registry; it closes it."""

    def retrieve(self, model_ids: Sequence[str], with_vectors: Sequence[str] = ()) -> list[PointData]:
        ids = [point_id(m) for m in model_ids]
        records = self.client.retrieve(
            self.collection, ids, with_payload=True, with_vectors=list(with_vectors) or False
        )
        by_id = {str(r.id): r for r in records}
        return [self._point(by_id[pid], with_vectors) for pid in ids if pid in by_id]

    @staticmethod
    def _point(record: Any, with_vectors: Sequence[str]) -> PointData:
        vectors = {}
        if with_vectors and isinstance(record.vector, dict):
            vectors = {k: _from_vector(v) for k, v in record.vector.items() if k in with_vectors}
        payload = record.payload or {}
        return PointData(id=payload.get("id", ""), payload=payload, vectors=vectors)

    def search(self, using: str, vector: Vector, limit: int, filters: Filters | None = None) -> list[Hit]:
        response = self.client.query_points(
            self.collection,
            query=_vector(vector),
            using=using,
            limit=limit,
            query_filter=server_filter(filters),
            search_params=_search_params(vector),
            with_payload=list(HIT_FIELDS),
        )
        return [Hit(model_id=p.payload["id"], score=float(p.score), payload=p.payload) for p in response.points]

    def search_many(self, searches: Sequence[Search]) -> list[list[Hit]]:
        nearest = [i for i, s in enumerate(searches) if s.order_by is None]
        out: list[list[Hit]] = [[] for _ in searches]
        if nearest:
            requests = [
                qm.QueryRequest(
                    query=_vector(searches[i].vector),  # type: ignore[arg-type]
                    using=searches[i].using,
                    limit=searches[i].limit,
                    filter=server_filter(searches[i].filters),
                    params=_search_params(searches[i].vector),  # type: ignore[arg-type]
                    with_payload=list(HIT_FIELDS),
                )
                for i in nearest
            ]
            for i, r in zip(nearest, self.client.query_batch_points(self.collection, requests=requests), strict=True):
                out[i] = [Hit(model_id=p.payload["id"], score=float(p.score), payload=p.payload) for p in r.points]
        for i, search in enumerate(searches):
            if search.order_by is not None:
                records, _ = self.client.scroll(
                    self.collection,
                    limit=search.limit,
                    scroll_filter=server_filter(search.filters),
                    with_payload=list(HIT_FIELDS),
                    order_by=qm.OrderBy(key=search.order_by, direction=qm.Direction.DESC),
                )
                out[i] = [
                    Hit(model_id=r.payload["id"], score=float(r.payload.get(search.order_by) or 0), payload=r.payload)
                    for r in records
                ]
        return out

    def fused_search(
        self,
        prefetches: Sequence[tuple[str, Vector, int]],
        weights: Sequence[float],
        limit: int,
        filters: Filters | None = None,
        rrf_k: int = 60,
    ) -> list[Hit]:
        flt = server_filter(filters)
        response = self.client.query_points(
            self.collection,
            prefetch=[
                qm.Prefetch(query=_vector(v), using=name, limit=n, filter=flt, params=_search_params(v))
                for name, v, n in prefetches
            ],
            query=qm.RrfQuery(rrf=qm.Rrf(k=rrf_k, weights=list(weights))),
            query_filter=flt,
            limit=limit,
            with_payload=list(HIT_FIELDS),
        )
        return [Hit(model_id=p.payload["id"], score=float(p.score), payload=p.payload) for p in response.points]

    def jaccard_search(self, tokens: SparseVector, pool: int, limit: int, filters: Filters | None = None) -> list[Hit]:
        union = qm.SumExpression(sum=[float(len(tokens.indices)), "token_count", qm.NegExpression(neg="$score")])
        flt = server_filter(filters)
        response = self.client.query_points(
            self.collection,
            prefetch=[qm.Prefetch(query=_vector(tokens), using="tokens", limit=pool, filter=flt)],
            query=qm.FormulaQuery(
                formula=qm.DivExpression(div=qm.DivParams(left="$score", right=union, by_zero_default=0.0))
            ),
            query_filter=flt,
            limit=limit,
            with_payload=list(HIT_FIELDS),
        )
        return [Hit(model_id=p.payload["id"], score=float(p.score), payload=p.payload) for p in response.points]

    def scroll(
        self, fields: Sequence[str] | None = None, with_vectors: Sequence[str] = (), batch: int = 1000
    ) -> Iterator[PointData]:
        offset = None
        with_payload: Any = True if fields is None else list(dict.fromkeys([*fields, "id"]))
        while True:
            records, offset = self.client.scroll(
                self.collection,
                limit=batch,
                offset=offset,
                with_payload=with_payload,
                with_vectors=list(with_vectors) or False,
            )
            for record in records:
                yield self._point(record, with_vectors)
            if offset is None:
                return

    def count(self, filters: Filters | None = None) -> int:
        return int(self.client.count(self.collection, count_filter=server_filter(filters), exact=True).count)
