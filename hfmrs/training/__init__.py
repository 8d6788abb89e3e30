"""The training job: k-means clusters and GNN vectors written back into a build, hybrid weights tuned.

:func:`make_trainer` returns a :data:`hfmrs.pipeline.Trainer`: it runs after a build's points are
written and before the build is published, so a build is served either fully trained or not at all.
It reads the `text` vectors back from Qdrant and writes

* each model's k-means ``cluster`` id into its payload (an indexed field; one call per cluster),
* each model's GNN embedding as the `gnn` named vector,

and returns a summary for the manifest (``training``): the k-means curve and choice, the GNN's losses
and validation AUC, the tuned hybrid weights, the edges used, and timings.  The same summary and the
k-means curve are written to the build's artefact folder (``training.json``) for the report.

Lineage: only the ``train`` side of the shared split (:func:`hfmrs.lineage.split_lineage`) is read.
A seeded fold of it (:data:`TUNE_FRACTION`) is kept out of the GNN's graph to tune the hybrid weights
and measure the GNN's link-prediction AUC on edges it never saw; no ``test`` pair is ever an edge.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hfmrs.catalog import Catalog
from hfmrs.lineage import LineageSplit, lineage_edges, split_lineage
from hfmrs.pipeline import GNN_DIM, Trainer
from hfmrs.settings import Settings
from hfmrs.store.base import GNN, TEXT, ModelStore

log = logging.getLogger(__name__)

TUNE_FRACTION = 0.15  # of train lineage edges: the hybrid tuning / GNN validation fold
WRITE_BATCH = 1000


def tune_fold(pairs: Sequence[tuple[str, str]], seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split train pairs into (GNN fit, tuning) by a seeded hash of each pair: stable across runs."""
    fit, tune = [], []
    for child, parent in pairs:
        digest = hashlib.sha256(f"hfmrs-tune|{seed}|{child}|{parent}".encode()).digest()
        (tune if int.from_bytes(digest[:8], "big") / 2**64 < TUNE_FRACTION else fit).append((child, parent))
    return fit, tune


def train_pairs(
    catalog: Catalog, settings: Settings, split: LineageSplit | None
) -> tuple[list[tuple[str, str]], LineageSplit]:
    """(train (child, parent) pairs with both ends in the catalog, the split).  Without a split, the shared
    split of this catalog's lineage is computed (the same hash-based assignment the evaluation uses)."""
    if split is None:
        split = split_lineage(lineage_edges(catalog, settings.lineage_dir))
    test = split.test_pairs
    pairs = []
    for edge in split.train:
        child, parent = catalog.ids.find(edge.child), catalog.ids.find(edge.parent)
        if child and parent and child != parent and (child, parent) not in test:
            pairs.append((child, parent))
    return sorted(set(pairs)), split


def make_trainer(settings: Settings, split: LineageSplit | None = None, show_progress: bool | None = None) -> Trainer:
    """The training step for :func:`hfmrs.pipeline.build`; ``split`` is the evaluation's lineage split
    (None: the shared split of the catalog being built)."""
    progress = sys.stderr.isatty() if show_progress is None else show_progress

    def trainer(store: ModelStore, catalog: Catalog, artifact_dir: Path) -> dict[str, Any]:
        return train(store, catalog, artifact_dir, settings, split, progress)

    return trainer


def train(
    store: ModelStore,
    catalog: Catalog,
    artifact_dir: Path,
    settings: Settings,
    split: LineageSplit | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    from hfmrs.training.gnn import train_gnn
    from hfmrs.training.graph import build_graph
    from hfmrs.training.kmeans import fit_kmeans
    from hfmrs.training.tune import tune_hybrid

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        log.info("train: %s done in %.2fs", name, timings[name])

    seed = settings.train_seed
    pairs, split = train_pairs(catalog, settings, split)
    test = split.test_pairs
    fit, tune = tune_fold(pairs, seed)
    # Sorted by model id: the node order, and with it every seeded step, is independent of how
    # Qdrant happens to return points.
    points = sorted(store.scroll(fields=["id"], with_vectors=[TEXT]), key=lambda p: p.id)
    points = [p for p in points if p.id in catalog.records and TEXT in p.vectors]
    ids = [p.id for p in points]
    text = np.asarray([p.vectors[TEXT] for p in points], dtype=np.float32)
    lap("read vectors")

    unit = text / np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
    km = fit_kmeans(
        unit, settings.kmeans_k_min, settings.kmeans_k_max, settings.kmeans_k_step, settings.kmeans_sample, seed
    )
    members: dict[int, list[str]] = defaultdict(list)
    for model_id, label in zip(ids, km.labels.tolist(), strict=True):
        members[int(label)].append(model_id)
    for cluster, model_ids in sorted(members.items()):
        store.set_payload(model_ids, {"cluster": cluster})
    lap("kmeans")

    records = [catalog.records[m] for m in ids]
    graph = build_graph(records, text, fit, held_out=[*test, *tune], knn=settings.gnn_knn)
    index = {m: i for i, m in enumerate(ids)}
    validation = [(index[c], index[p]) for c, p in tune if c in index and p in index]
    lap("graph")
    result = train_gnn(
        graph,
        out_dim=GNN_DIM,
        hidden=settings.gnn_hidden_dim,
        epochs=settings.gnn_epochs,
        lr=settings.gnn_lr,
        negatives=settings.gnn_negatives,
        seed=seed,
        validation=validation,
        show_progress=show_progress,
    )
    lap("gnn")
    for start in range(0, len(ids), WRITE_BATCH):
        chunk = ids[start : start + WRITE_BATCH]
        store.set_vectors({m: {GNN: result.vectors[index[m]].tolist()} for m in chunk})
    lap("write gnn vectors")

    hybrid = tune_hybrid(
        store,
        tune,
        queries=settings.hybrid_tune_queries,
        seed=seed,
        prefetch=settings.hybrid_prefetch,
        prior=settings.popularity_prior,
    )
    lap("tune hybrid")

    summary: dict[str, Any] = {
        "seed": seed,
        "models": len(ids),
        "lineage": {
            "train_edges": len(pairs),
            "gnn_edges": len(fit),
            "tuning_edges": len(tune),
            "held_out_test_edges": len(test),
            "split_key": split.key,
        },
        "kmeans": km.summary,
        "gnn": {**result.summary, "graph": graph.counts},
        "hybrid": hybrid,
        "timings": timings,
    }
    (artifact_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary


__all__ = ["TUNE_FRACTION", "make_trainer", "train", "train_pairs", "tune_fold"]
