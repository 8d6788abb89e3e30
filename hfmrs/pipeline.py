"""The build: snapshots -> catalog -> Qdrant payloads -> vectors -> indexes, in a new versioned build.

``build()`` is what ``hfmrs build``, ``make run`` and the ingest service call.  It is skipped when
the serving build was made from the same inputs (snapshot bytes, feature recipe, encoder, lineage
hold-out); otherwise it writes a new build and switches to it only once everything is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hfmrs.catalog import Catalog, ModelRecord, load_catalog, snapshot_files
from hfmrs.embedding import Encoder, VectorCache, embed_with_cache
from hfmrs.features import FEATURE_VERSION, lexical_text, soup, soup_hash, sparse_tokens, tokens
from hfmrs.settings import Settings
from hfmrs.store.base import (
    BM25,
    GNN,
    TEXT,
    TOKENS,
    ModelStore,
    PointData,
    SparseVector,
    VectorSpec,
)
from hfmrs.store.builds import Builds, open_builds

log = logging.getLogger(__name__)

UPSERT_BATCH = 1000
GNN_DIM = 128  # size of the `gnn` named vector, declared up front so every build can hold it
LEXICAL_VERSION = "2"  # the BM25 document recipe (features.lexical_text), part of the input hash


# A training step over a freshly written, unpublished build: (store, catalog, artifact dir) -> summary.
Trainer = Callable[[ModelStore, Catalog, Path], dict[str, Any]]


@dataclass
class BuildResult:
    build_id: str
    skipped: bool
    models: int
    embedded: int  # texts the encoder embedded in this run (the rest came from the cache)
    timings: dict[str, float] = field(default_factory=dict)


def record_payload(record: ModelRecord, text: str, token_list: list[str]) -> dict[str, Any]:
    """The Qdrant payload of one model: the record, its aliases, soup and feature tokens."""
    payload = record.to_dict()
    payload["base_model_ids"] = [b.id for b in record.base_models]
    payload["soup"] = text
    payload["soup_hash"] = soup_hash(text)
    payload["tokens"] = token_list
    payload["token_count"] = len(token_list)
    return payload


def input_hash(files: Iterable[Path], encoder_name: str, extra: str = "") -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(f"features={FEATURE_VERSION};lexical={LEXICAL_VERSION};encoder={encoder_name};{extra}".encode())
    return digest.hexdigest()[:16]


class StageTimer:
    """Times named stages and logs them; ``timings`` ends up in the build manifest."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        log.info("stage %s ...", name)
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        log.info("stage %s done in %.2fs", name, self.timings[name])


def _bm25_vectors(texts: Sequence[str]) -> list[SparseVector]:
    import qdrant_edge as qe

    lengths = [len(t.split()) for t in texts]
    model = qe.Bm25(qe.Bm25Config(avg_len=float(np.mean(lengths)) if lengths else 1.0))
    out = []
    for text in texts:
        vec = model.embed_document(text)
        out.append(SparseVector(indices=list(vec.indices), values=list(vec.values)))
    return out


def write_points(
    store: ModelStore,
    catalog: Catalog,
    vectors: dict[str, np.ndarray],
    soups: dict[str, str],
    token_lists: dict[str, list[str]],
    encoder_name: str,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Upsert every model with payload, `text`, `tokens` and `bm25` vectors, in batches."""
    records = list(catalog)
    bm25 = _bm25_vectors([lexical_text(soups[r.id], r.author) for r in records])
    for start in range(0, len(records), UPSERT_BATCH):
        batch = []
        for offset, record in enumerate(records[start : start + UPSERT_BATCH]):
            text = soups[record.id]
            payload = record_payload(record, text, token_lists[record.id])
            payload["text_encoder"] = encoder_name
            indices, values = sparse_tokens(token_lists[record.id])
            batch.append(
                PointData(
                    id=record.id,
                    payload=payload,
                    vectors={
                        TEXT: vectors[payload["soup_hash"]].tolist(),
                        TOKENS: SparseVector(indices, values),
                        BM25: bm25[start + offset],
                    },
                )
            )
        store.upsert(batch)
        if progress:
            progress(len(batch))


def write_id_index(path: Path, catalog: Catalog) -> None:
    """ids, aliases and popularity for fast start-up and autocomplete (no scroll over Qdrant needed)."""
    rows = [
        {"id": r.id, "aliases": r.aliases, "downloads": r.downloads, "pipeline_tag": r.pipeline_tag}
        for r in sorted(catalog, key=lambda r: r.id)
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, separators=(",", ":")))
    tmp.replace(path)


def build(
    settings: Settings,
    encoder: Encoder | None = None,
    catalog: Catalog | None = None,
    builds: Builds | None = None,
    force: bool = False,
    transform: Callable[[Catalog], Catalog] | None = None,
    transform_key: str = "",
    trainer: Trainer | None = None,
    show_progress: bool = True,
) -> BuildResult:
    """Build (or skip) and publish.  ``transform`` rewrites the catalog before features are made
    (the evaluation uses it to strip held-out lineage); ``transform_key`` names it in the input hash.
    ``trainer`` runs after the points are written and before the build is published (k-means clusters,
    GNN vectors); what it returns is stored in the manifest under ``training``."""
    from rich.progress import Progress

    timer = StageTimer()
    builds = builds or open_builds(settings)
    if encoder is None:
        from hfmrs.embedding import LazyEncoder

        encoder = LazyEncoder(
            settings.encoder,
            device=settings.encoder_device,
            batch_size=settings.encoder_batch_size,
            max_seq_length=settings.encoder_max_seq_length,
        )
    files = snapshot_files(settings.snapshot_dir, settings.live_snapshot_dir) if catalog is None else []
    extra = transform_key if catalog is None else f"catalog={_catalog_digest(catalog)};{transform_key}"
    wanted = input_hash(files, encoder.name, extra)
    current = builds.current_id()
    if not force and current is not None and builds.manifest(current).get("input_hash") == wanted:
        manifest = builds.manifest(current)
        log.info("build %s is up to date (inputs %s); nothing to do", current, wanted)
        return BuildResult(current, True, manifest.get("models", 0), 0, timer.timings)

    # Unique even for two forced builds of the same inputs in one second: never reuse a live name.
    build_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{wanted[:8]}-{secrets.token_hex(2)}"
    with timer.stage("catalog"):
        if catalog is None:
            catalog = load_catalog(settings.snapshot_dir, settings.live_snapshot_dir)
        if transform is not None:
            catalog = transform(catalog)
    with timer.stage("features"):
        soups = {r.id: soup(r) for r in catalog}
        token_lists = {r.id: tokens(r) for r in catalog}
        by_hash = {soup_hash(t): t for t in soups.values()}
    with timer.stage("embeddings"):
        cache = VectorCache(encoder.name, settings.home / "cache" / "vectors", [settings.vector_cache])
        vectors, embedded = embed_with_cache(encoder, by_hash, cache, show_progress=show_progress)
        if embedded:
            cache.save()
        log.info("embedded %d new soups, %d from cache", embedded, len(by_hash) - embedded)
    # The dimension comes from the vectors themselves: a fully cached build never loads the encoder.
    dim = len(next(iter(vectors.values()))) if vectors else encoder.dim
    store = builds.create(build_id, [VectorSpec(TEXT, dim), VectorSpec(GNN, GNN_DIM)], [TOKENS, BM25])
    try:
        with timer.stage("qdrant upsert"), Progress(disable=not show_progress, transient=True) as bar:
            task = bar.add_task("writing points", total=len(catalog))
            write_points(store, catalog, vectors, soups, token_lists, encoder.name, lambda n: bar.advance(task, n))
        training: dict[str, Any] = {}
        if trainer is not None:
            with timer.stage("train"):
                training = trainer(store, catalog, builds.artifact_dir(build_id))
        with timer.stage("qdrant index"):
            store.optimize()
        write_id_index(builds.artifact_dir(build_id) / "ids.json", catalog)
    except BaseException:
        store.close()
        builds.discard(build_id)  # the serving build is untouched
        raise
    store.close()
    manifest = {
        "build_id": build_id,
        "input_hash": wanted,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": len(catalog),
        "snapshots": catalog.snapshots,
        "encoder": encoder.name,
        "dim": dim,
        "feature_version": FEATURE_VERSION,
        "embedded": embedded,
        "timings": timer.timings,
        "transform": transform_key,
        "training": training,
    }
    builds.publish(build_id, manifest)
    log.info("published build %s (%d models)", build_id, len(catalog))
    return BuildResult(build_id, False, len(catalog), embedded, timer.timings)


def _catalog_digest(catalog: Catalog) -> str:
    digest = hashlib.sha256()
    for record in sorted(catalog, key=lambda r: r.id):
        digest.update(json.dumps(record.to_dict(), sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]
