"""Both Qdrant backends against an exact numpy reference, and against each other (one contract)."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient

from hfmrs.filters import FIELDS, Filters
from hfmrs.store.base import HIT_FIELDS, TEXT, TOKENS, PointData, SparseVector, VectorSpec
from hfmrs.store.edge import EdgeStore, edge_filter
from hfmrs.store.server import ServerStore

N, DIM = 300, 16
TASKS = ["text-generation", "fill-mask", "image-classification"]


def dataset(seed: int = 0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    points = []
    for i in range(N):
        tokens = sorted({int(t) for t in rng.integers(0, 40, size=6)})
        payload = {
            "id": f"org/model-{i:03d}",
            "pipeline_tag": TASKS[i % 3],
            "library": "transformers" if i % 2 else "diffusers",
            "license": "mit" if i % 5 else "apache-2.0",
            "author": "org",
            "downloads": int(rng.integers(0, 1_000_000)),
            "tokens": [str(t) for t in tokens],
        }
        points.append(
            PointData(
                payload["id"], payload, {TEXT: vectors[i].tolist(), TOKENS: SparseVector(tokens, [1.0] * len(tokens))}
            )
        )
    return vectors, points


def exact_top_k(vectors, points, query: int, k: int, filters: Filters) -> list[str]:
    scores = vectors @ vectors[query]
    order = np.argsort(-scores, kind="stable")
    return [points[i].id for i in order if filters.matches(points[i].payload)][:k]


@pytest.fixture(params=["edge", "server"])
def store(request, tmp_path):
    specs, sparse = [VectorSpec(TEXT, DIM)], [TOKENS]
    if request.param == "edge":
        backend = EdgeStore.create(tmp_path / "shard", specs, sparse)
    else:
        backend = ServerStore.create(QdrantClient(":memory:"), "models", specs, sparse)
    vectors, points = dataset()
    backend.upsert(points)
    backend.optimize()
    yield backend, vectors, points
    backend.close()


FILTERS = [
    Filters(),
    Filters(pipeline_tag="fill-mask"),
    Filters(library="diffusers", license="mit"),
    Filters(min_downloads=500_000),
    Filters(pipeline_tag="image-classification", min_downloads=100_000, exclude=("org/model-002",)),
]


@pytest.mark.parametrize("flt", FILTERS, ids=repr)
def test_dense_neighbours_equal_exact_numpy_search(store, flt):
    backend, vectors, points = store
    for query in (0, 7, 151, 299):
        flt_q = flt.with_exclude(points[query].id)
        got = [h.model_id for h in backend.search(TEXT, vectors[query].tolist(), 10, flt_q)]
        assert got == exact_top_k(vectors, points, query, 10, flt_q)


def test_sparse_dot_counts_shared_tokens(store):
    backend, _, points = store
    query = points[5].vectors[TOKENS]
    hits = backend.search(TOKENS, query, 20)
    mine = set(points[5].payload["tokens"])
    tokens = {p.id: set(p.payload["tokens"]) for p in points}
    for hit in hits:
        assert hit.score == pytest.approx(len(mine & tokens[hit.model_id]))
        assert set(hit.payload) <= set(HIT_FIELDS)  # hits carry the fields results need, not the token lists


def test_retrieve_scroll_count_payload(store):
    backend, vectors, points = store
    got = backend.retrieve(["org/model-010", "nope/nope", "org/model-003"], with_vectors=[TEXT])
    assert [p.id for p in got] == ["org/model-010", "org/model-003"]
    assert np.allclose(got[0].vectors[TEXT], vectors[10], atol=1e-6)
    assert sorted(p.id for p in backend.scroll(fields=["downloads"], batch=64)) == sorted(p.id for p in points)
    assert backend.count() == N
    assert backend.count(Filters(pipeline_tag="fill-mask")) == N // 3
    backend.set_payload(["org/model-001"], {"cluster": 7})
    assert backend.count(Filters(cluster=7)) == 1
    backend.set_vectors({"org/model-001": {TEXT: vectors[0].tolist()}})
    assert backend.search(TEXT, vectors[0].tolist(), 2)[1].model_id in {"org/model-000", "org/model-001"}


def test_both_backends_agree(tmp_path):
    specs, sparse = [VectorSpec(TEXT, DIM)], [TOKENS]
    edge = EdgeStore.create(tmp_path / "shard", specs, sparse)
    server = ServerStore.create(QdrantClient(":memory:"), "models", specs, sparse)
    vectors, points = dataset(seed=3)
    for backend in (edge, server):
        backend.upsert(points)
        backend.optimize()
    try:
        for query in range(0, N, 37):
            for flt in FILTERS:
                a = edge.search(TEXT, vectors[query].tolist(), 8, flt)
                b = server.search(TEXT, vectors[query].tolist(), 8, flt)
                assert [h.model_id for h in a] == [h.model_id for h in b]
                assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)
    finally:
        edge.close()


def test_edge_rolls_segments_while_building_and_still_finds_exact_neighbours(tmp_path, monkeypatch):
    import hfmrs.store.edge as edge

    monkeypatch.setattr(edge, "SEGMENT_POINTS", 100)  # a new segment every 100 points, as 250k at scale
    monkeypatch.setattr(edge, "INDEXING_THRESHOLD_KB", 1)  # index even these tiny segments
    backend = EdgeStore.create(tmp_path / "shard", [VectorSpec(TEXT, DIM)], [TOKENS])
    vectors, points = dataset(seed=3)
    for start in range(0, N, 50):
        backend.upsert(points[start : start + 50])
    backend.optimize()
    try:
        assert backend._shard.info().segments_count >= 3
        assert backend.count() == N
        for query in (0, 150, 299):
            flt = Filters().with_exclude(points[query].id)
            got = [h.model_id for h in backend.search(TEXT, vectors[query].tolist(), 10, flt)]
            assert got == exact_top_k(vectors, points, query, 10, flt)
    finally:
        backend.close()


def test_exactly_the_filtered_fields_are_indexed(tmp_path):
    # A filter on an unindexed field scans payloads (18 ms instead of ~1 ms at 17.5k); an index nothing
    # queries costs start-up time and RAM.  Every field a Filters condition or the Jaccard formula
    # reads has an index, and nothing else does.
    every = Filters(
        pipeline_tag="t",
        library="l",
        license="m",
        author="a",
        min_downloads=1,
        cluster=2,
        max_params_billions=3.0,
        fits_in_gb=8.0,
        dtype="int8",
        size_unknown=True,
        purpose="sentiment",
        size_band=(1.0, 2.0),
        family="org/base",
        language="de",
        format="gguf",
        commercial=True,
    )

    def keys(condition) -> set[str]:  # field conditions, nested filters (fits: either memory field), is-empty
        nested = [*(getattr(condition, "must", None) or []), *(getattr(condition, "should", None) or [])]
        return {condition.key} if hasattr(condition, "key") else set().union(*(keys(c) for c in nested))

    filtered = keys(edge_filter(every))
    backend = EdgeStore.create(tmp_path / "shard", [VectorSpec(TEXT, DIM)], [TOKENS])
    try:
        indexed = set(backend._shard.info().payload_schema)
    finally:
        backend.close()
    assert indexed == filtered | {"token_count"}
    assert filtered >= {"fp_params_billions", "quantized_weights_gb", "params_billions", "purposes", "family"}
    for name in [f.name for f in FIELDS if f.name != "dtype"]:
        assert getattr(every, name) not in (None, False)  # the test sets every condition Filters knows


@pytest.mark.parametrize("backend_name", ["edge", "server"])
def test_int8_quantized_text_rescores_to_exact_neighbours(tmp_path, monkeypatch, backend_name):
    # The int8 copy only picks candidates: with rescoring on the float32 originals the neighbours and
    # their scores are the exact ones (int8 scores alone are off by ~1e-2).
    import hfmrs.store.edge as edge

    monkeypatch.setattr(edge, "INDEXING_THRESHOLD_KB", 1)  # index (and quantize) even this tiny shard
    specs = [VectorSpec(TEXT, DIM, quantization="int8")]
    if backend_name == "edge":
        backend = EdgeStore.create(tmp_path / "shard", specs, [TOKENS])
    else:
        backend = ServerStore.create(QdrantClient(":memory:"), "models", specs, [TOKENS])
    vectors, points = dataset(seed=5)
    backend.upsert(points)
    backend.optimize()
    try:
        if backend_name == "edge":
            quantized = list((tmp_path / "shard").glob("segments/*/vector_storage-text/quantized*"))
            assert quantized, "the optimized segment holds no int8 copy of `text`"
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        for query in range(0, N, 29):
            want = {points[i].id: float(unit[i] @ unit[query]) for i in range(N)}
            for flt in FILTERS:
                flt = flt.with_exclude(points[query].id)
                hits = backend.search(TEXT, vectors[query].tolist(), 8, flt)
                assert [h.model_id for h in hits] == exact_top_k(vectors, points, query, 8, flt)
                assert [h.score for h in hits] == pytest.approx([want[h.model_id] for h in hits], abs=1e-5)
    finally:
        backend.close()


def test_unknown_quantization_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown quantization 'int4'"):
        EdgeStore.create(tmp_path / "shard", [VectorSpec(TEXT, DIM, quantization="int4")], [TOKENS])
