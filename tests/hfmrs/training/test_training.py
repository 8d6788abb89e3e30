"""The training job: K selection with its curve stored, reproducible GNN vectors, lineage hygiene."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hfmrs.catalog import load_catalog
from hfmrs.lineage import Edge, LineageSplit
from hfmrs.sources import open_catalog
from hfmrs.store.base import GNN, TEXT
from hfmrs.store.builds import open_builds
from hfmrs.training import graph as graph_module
from hfmrs.training import train, train_pairs
from hfmrs.training.graph import build_graph
from hfmrs.training.kmeans import choose_k, elbow, fit_kmeans, k_range
from hfmrs.training.tune import GRID, tune_hybrid
from tests.trained import shared_trained_settings, tiny_settings, trained_build

CHILD, PARENT = "acme/gpt2-finetuned", "openai-community/gpt2"
GGUF = "acme/gpt2-gguf"


def gnn_vectors(store) -> dict[str, list[float]]:
    return {p.id: p.vectors[GNN] for p in store.scroll(fields=["id"], with_vectors=[GNN])}


def test_k_selection_finds_separated_blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16)) * 10
    x = np.concatenate([c + rng.normal(size=(60, 16)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    result = fit_kmeans(x, k_min=2, k_max=10, step=1, sample=200, seed=3)
    assert result.k == 5
    assert [row["k"] for row in result.summary["curve"]] == list(range(2, 11))
    assert set(result.summary["picks"]) == {"elbow", "silhouette", "davies_bouldin", "calinski_harabasz"}
    assert len(set(result.labels.tolist())) == 5


def test_elbow_and_rank_rule():
    assert elbow([2, 4, 6, 8, 10], [100, 30, 22, 18, 15]) == 4
    curve = [
        {"k": 2, "inertia": 100, "silhouette": 0.1, "davies_bouldin": 2.0, "calinski_harabasz": 50},
        {"k": 4, "inertia": 30, "silhouette": 0.5, "davies_bouldin": 0.8, "calinski_harabasz": 90},
        {"k": 6, "inertia": 25, "silhouette": 0.4, "davies_bouldin": 0.9, "calinski_harabasz": 95},
    ]
    k, detail = choose_k(curve)
    assert k == 4 and detail["picks"] == {"elbow": 4, "silhouette": 4, "davies_bouldin": 4, "calinski_harabasz": 6}
    assert k_range(15, 2, 96, 1) == list(range(2, 15))  # capped at n - 1
    assert k_range(2, 2, 8, 1) == []


def test_trained_build_stores_clusters_curve_and_vectors():
    settings = shared_trained_settings()
    builds = open_builds(settings)
    build_id = builds.current_id()
    training = builds.manifest(build_id)["training"]
    km = training["kmeans"]
    assert [row["k"] for row in km["curve"]] == list(range(2, 7))
    for row in km["curve"]:
        assert {"inertia", "silhouette", "davies_bouldin", "calinski_harabasz"} <= set(row)
    assert 2 <= km["k"] <= 6 and km["rule"]
    saved = json.loads((builds.artifact_dir(build_id) / "training.json").read_text())
    assert saved["kmeans"]["curve"] == km["curve"]
    assert training["gnn"]["final_loss"] < training["gnn"]["first_loss"]  # it learned something
    assert tuple(training["hybrid"]["weights"]) in GRID

    store = builds.open(build_id)
    try:
        points = list(store.scroll(with_vectors=[GNN, TEXT]))
        assert len(points) == 15
        assert {p.payload["cluster"] for p in points} == set(range(km["k"]))  # every cluster used
        assert all(len(p.vectors[GNN]) == 128 for p in points)
        assert all(abs(np.linalg.norm(p.vectors[GNN]) - 1) < 1e-4 for p in points)
        # the payload index serves cluster filters
        from hfmrs.filters import Filters

        sizes = [store.count(Filters(cluster=c)) for c in range(km["k"])]
        assert sum(sizes) == 15
    finally:
        store.close()


def test_training_is_reproducible_with_a_seed(tmp_path):
    settings = tiny_settings(tmp_path)
    result = trained_build(settings)
    builds = open_builds(settings)
    built = builds.manifest(result.build_id)["training"]
    catalog = open_catalog(settings)
    store = builds.open(result.build_id)
    try:
        first = gnn_vectors(store)
        # the same seed, trained again in place: bit-identical vectors, clusters and losses
        again = train(store, catalog, tmp_path, settings)
        assert gnn_vectors(store) == first and len(first) == 15
        assert again["kmeans"] == built["kmeans"] and again["gnn"]["loss_curve"] == built["gnn"]["loss_curve"]
        # and the seed matters
        train(store, catalog, tmp_path, settings.model_copy(update={"train_seed": 8}))
        other = gnn_vectors(store)
        assert any(not np.allclose(first[m], other[m]) for m in first)
    finally:
        store.close()


def test_held_out_edges_never_in_the_training_graph(tmp_path, monkeypatch):
    settings = tiny_settings(tmp_path)
    catalog = load_catalog(settings.snapshot_dir)
    held = Edge(CHILD, PARENT, "finetune", "tags")
    kept = Edge(GGUF, PARENT, "quantized", "tags")
    split = LineageSplit(train=(kept,), test=(held,))

    pairs, _ = train_pairs(catalog, settings, split)
    assert pairs == [(GGUF, PARENT)]

    # Without the hold-out the pair would be in the graph (family / kNN links): the check can fail.
    records = sorted(catalog, key=lambda r: r.id)
    text = np.eye(len(records), dtype=np.float32)[:, :8] + 0.01
    text[[r.id for r in records].index(CHILD)] = text[[r.id for r in records].index(PARENT)]
    open_graph = build_graph(records, text, [(CHILD, PARENT)], held_out=[], knn=2)
    assert open_graph.has_pair(CHILD, PARENT)
    closed = build_graph(records, text, [(CHILD, PARENT)], held_out=[(CHILD, PARENT)], knn=2)
    assert not closed.has_pair(CHILD, PARENT)

    # And the real trainer, given the split, builds a graph without it.
    seen = []
    real = graph_module.build_graph

    def spy(*args, **kwargs):
        graph = real(*args, **kwargs)
        seen.append(graph)
        return graph

    monkeypatch.setattr(graph_module, "build_graph", spy)
    result = trained_build(settings, split=split)
    assert len(seen) == 1 and not seen[0].has_pair(CHILD, PARENT)
    assert seen[0].has_pair(GGUF, PARENT)
    training = open_builds(settings).manifest(result.build_id)["training"]
    assert training["lineage"]["held_out_test_edges"] == 1


def test_hybrid_tuning_scores_the_grid():
    settings = shared_trained_settings()
    builds = open_builds(settings)
    store = builds.open(builds.current_id())
    try:
        tuned = tune_hybrid(store, [(CHILD, PARENT), (GGUF, PARENT)], queries=10, seed=1, prefetch=20, prior=0.5)
    finally:
        store.close()
    assert tuned["queries"] == 2 and len(tuned["grid"]) == len(GRID)
    assert tuned["grid"][GRID.index(tuple(tuned["weights"]))]["hit_rate@10"] == max(
        row["hit_rate@10"] for row in tuned["grid"]
    )
    assert max(row["hit_rate@10"] for row in tuned["grid"]) == pytest.approx(1.0)
