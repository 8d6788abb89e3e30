"""The training job's steps (see the package docstring): read vectors, cluster, train the GNN, tune."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass
class Laps:
    """Named stage timings of one training run (for the manifest)."""

    timings: dict[str, float] = field(default_factory=dict)
    clock: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.clock, 3)
        self.clock = now
        log.info("train: %s done in %.2fs", name, self.timings[name])


def read_text_vectors(store: ModelStore, catalog: Catalog) -> tuple[list[str], np.ndarray]:
    """(ids, `text` vectors) of the catalog's points, sorted by id: the node order, and with it every
    seeded step, is independent of how Qdrant happens to return points."""
    points = sorted(store.scroll(fields=["id"], with_vectors=[TEXT]), key=lambda p: p.id)
    points = [p for p in points if p.id in catalog.records and TEXT in p.vectors]
    return [p.id for p in points], np.asarray([p.vectors[TEXT] for p in points], dtype=np.float32)


def write_clusters(store: ModelStore, ids: Sequence[str], text: np.ndarray, settings: Settings) -> dict[str, Any]:
    """k-means over the unit `text` vectors; each model's cluster id into its payload (one call per cluster)."""
    from hfmrs.training.kmeans import fit_kmeans

    unit = text / np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
    km = fit_kmeans(
        unit, settings.kmeans_k_min, settings.kmeans_k_max, settings.kmeans_k_step, settings.kmeans_sample,
        settings.train_seed,
    )  # fmt: skip
    members: dict[int, list[str]] = defaultdict(list)
    for model_id, label in zip(ids, km.labels.tolist(), strict=True):
        members[int(label)].append(model_id)
    for cluster, model_ids in sorted(members.items()):
        store.set_payload(model_ids, {"cluster": cluster})
    return km.summary


def write_gnn_vectors(
    store: ModelStore,
    catalog: Catalog,
    ids: Sequence[str],
    text: np.ndarray,
    fit: Sequence[tuple[str, str]],
    held_out: Sequence[tuple[str, str]],
    validation: Sequence[tuple[str, str]],
    settings: Settings,
    show_progress: bool,
) -> dict[str, Any]:
    """GraphSAGE over lineage (``fit`` pairs only), family and kNN edges; the `gnn` vectors written back."""
    from hfmrs.training.gnn import train_gnn
    from hfmrs.training.graph import build_graph

    graph = build_graph([catalog.records[m] for m in ids], text, fit, held_out=held_out, knn=settings.gnn_knn)
    index = {m: i for i, m in enumerate(ids)}
    result = train_gnn(
        graph,
        out_dim=GNN_DIM,
        hidden=settings.gnn_hidden_dim,
        epochs=settings.gnn_epochs,
        lr=settings.gnn_lr,
        negatives=settings.gnn_negatives,
        seed=settings.train_seed,
        validation=[(index[c], index[p]) for c, p in validation if c in index and p in index],
        show_progress=show_progress,
    )
    for start in range(0, len(ids), WRITE_BATCH):
        chunk = ids[start : start + WRITE_BATCH]
        store.set_vectors({m: {GNN: result.vectors[index[m]].tolist()} for m in chunk})
    return {**result.summary, "graph": graph.counts}


def train(
    store: ModelStore,
    catalog: Catalog,
    artifact_dir: Path,
    settings: Settings,
    split: LineageSplit | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Clusters, GNN vectors and hybrid weights for the build in ``store``; the summary for its manifest."""
    from hfmrs.training.tune import tune_hybrid

    laps = Laps()
    seed = settings.train_seed
    pairs, split = train_pairs(catalog, settings, split)
    fit, tune = tune_fold(pairs, seed)
    ids, text = read_text_vectors(store, catalog)
    laps.lap("read vectors")
    kmeans = write_clusters(store, ids, text, settings)
    laps.lap("kmeans")
    held_out = [*split.test_pairs, *tune]
    gnn = write_gnn_vectors(store, catalog, ids, text, fit, held_out, tune, settings, show_progress)
    laps.lap("gnn")
    hybrid = tune_hybrid(
        store, tune, queries=settings.hybrid_tune_queries, seed=seed, prefetch=settings.hybrid_prefetch,
        prior=settings.popularity_prior,
    )  # fmt: skip
    laps.lap("tune hybrid")
    summary: dict[str, Any] = {
        "seed": seed,
        "models": len(ids),
        "lineage": {
            "train_edges": len(pairs),
            "gnn_edges": len(fit),
            "tuning_edges": len(tune),
            "held_out_test_edges": len(split.test_pairs),
            "split_key": split.key,
        },
        "kmeans": kmeans,
        "gnn": gnn,
        "hybrid": hybrid,
        "timings": laps.timings,
    }
    (artifact_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary
