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

from hfmrs.catalog import Catalog, ModelRecord
from hfmrs.embedding import Encoder, VectorCache
from hfmrs.features import FEATURE_VERSION, lexical_text, soup, soup_hash, sparse_tokens, tokens
from hfmrs.settings import Settings
from hfmrs.sizes import memory_fields
from hfmrs.sources import ENRICHMENT_VERSION, input_files, open_catalog
from hfmrs.store.base import (
    BM25,
    GNN,
    TEXT,
    TOKENS,
    ModelStore,
    PointData,
    SparseVector,
    VectorSpec,
    point_id,
)
from hfmrs.store.builds import ID_INDEX_DIR, Builds, check_free_space, open_builds
from hfmrs.store.cards import CARDS_DIR, CardWriter
from hfmrs.store.lock import HeldLock, build_lock

log = logging.getLogger(__name__)

UPSERT_BATCH = 1000
EMBED_CHUNK = 65_536  # texts per encoder call: bounds the text and vector scratch memory
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
    payload.update(memory_fields(record.params, record.weight_format))  # what the fits filter reads
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


def bm25_documents(texts: Sequence[str], avg_len: float) -> list[SparseVector]:
    """BM25 term-frequency weights of documents (IDF is applied by Qdrant's modifier at query time).
    ``avg_len`` is the mean word count over the whole catalog, so a chunk is weighted as the whole."""
    import qdrant_edge as qe

    model = qe.Bm25(qe.Bm25Config(avg_len=avg_len))
    out = []
    for text in texts:
        vec = model.embed_document(text)
        out.append(SparseVector(indices=list(vec.indices), values=list(vec.values)))
    return out


def write_points(
    store: ModelStore,
    records: Sequence[ModelRecord],
    hashes: Sequence[str],
    cache: VectorCache,
    encoder_name: str,
    avg_len: float,
    progress: Callable[[int], None] | None = None,
    cards: CardWriter | None = None,
) -> None:
    """Upsert every model with payload, `text`, `tokens` and `bm25` vectors, in batches.

    Streams: soups, tokens and BM25 weights are made per batch and dropped after it, so memory
    holds the catalog and the vectors, never every model's features at once (1M models fit in < 6 GB).
    """
    for start in range(0, len(records), UPSERT_BATCH):
        chunk = records[start : start + UPSERT_BATCH]
        dense = cache.vectors(hashes[start : start + UPSERT_BATCH])
        soups = [soup(r) for r in chunk]
        bm25 = bm25_documents([lexical_text(t, r.author) for t, r in zip(soups, chunk, strict=True)], avg_len)
        batch = []
        for offset, (record, text) in enumerate(zip(chunk, soups, strict=True)):
            token_list = tokens(record)
            payload = record_payload(record, text, token_list)
            payload["text_encoder"] = encoder_name
            indices, values = sparse_tokens(token_list)
            batch.append(
                PointData(
                    id=record.id,
                    payload=payload,
                    vectors={TEXT: dense[offset].tolist(), TOKENS: SparseVector(indices, values), BM25: bm25[offset]},
                )
            )
        store.upsert(batch)
        if cards is not None:
            cards.add((point_id(p.id), p.payload) for p in batch)
        if progress:
            progress(len(batch))


def embed_missing(
    encoder: Encoder,
    records: Sequence[ModelRecord],
    hashes: Sequence[str],
    cache: VectorCache,
    show_progress: bool = False,
    chunk: int = EMBED_CHUNK,
) -> int:
    """Embed the soups the cache lacks, ``chunk`` texts at a time (bounded memory); returns how many."""
    wanted = set(cache.missing(hashes))
    total = len(wanted)
    pending: dict[str, str] = {}
    for record, h in zip(records, hashes, strict=True):
        if h in wanted and h not in pending:
            pending[h] = soup(record)
            if len(pending) == chunk:
                cache.put_many(list(pending), encoder.encode(list(pending.values()), show_progress=show_progress))
                wanted.difference_update(pending)
                pending = {}
    if pending:
        cache.put_many(list(pending), encoder.encode(list(pending.values()), show_progress=show_progress))
    return total


def settings_encoder(settings: Settings) -> Encoder:
    """The encoder the settings name, loaded only if something is actually embedded."""
    from hfmrs.embedding import LazyEncoder

    return LazyEncoder(
        settings.encoder,
        device=settings.encoder_device,
        batch_size=settings.encoder_batch_size,
        max_seq_length=settings.encoder_max_seq_length,
    )


def build_inputs_hash(settings: Settings, encoder_name: str, catalog: Catalog | None, transform_key: str) -> str:
    """What a build is made from: input files (or the given catalog's records), recipes, encoder, settings."""
    files = input_files(settings) if catalog is None else []
    extra = transform_key if catalog is None else f"catalog={_catalog_digest(catalog)};{transform_key}"
    extra += f";enrichment={ENRICHMENT_VERSION}"
    extra += f";text_quantization={settings.text_quantization}"  # a new setting needs a new build
    return input_hash(files, encoder_name, extra)


def soup_hashes(records: Sequence[ModelRecord]) -> tuple[list[str], float]:
    """Each soup's hash (its vector's key) and the mean BM25 document length: what must be known before
    writing.  The features themselves are remade per batch while writing."""
    hashes: list[str] = []
    lengths = np.zeros(len(records), dtype=np.float64)
    for i, record in enumerate(records):
        text = soup(record)
        hashes.append(soup_hash(text))
        lengths[i] = len(lexical_text(text, record.author).split())
    return hashes, float(lengths.mean()) if len(records) else 1.0


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
    GNN vectors); what it returns is stored in the manifest under ``training``.

    One builder per home: while another build runs, this raises
    :class:`~hfmrs.store.lock.BuildRunningError` naming it, and touches nothing."""
    with build_lock(settings.home) as lock:
        return _build(settings, encoder, catalog, builds, force, transform, transform_key, trainer, show_progress, lock)


def _build(
    settings: Settings,
    encoder: Encoder | None,
    catalog: Catalog | None,
    builds: Builds | None,
    force: bool,
    transform: Callable[[Catalog], Catalog] | None,
    transform_key: str,
    trainer: Trainer | None,
    show_progress: bool,
    lock: HeldLock,
) -> BuildResult:
    timer = StageTimer()
    builds = builds or open_builds(settings)
    encoder = encoder or settings_encoder(settings)
    wanted = build_inputs_hash(settings, encoder.name, catalog, transform_key)
    current = builds.current_id()
    if not force and current is not None and builds.manifest(current).get("input_hash") == wanted:
        log.info("build %s is up to date (inputs %s); nothing to do", current, wanted)
        return BuildResult(current, True, builds.manifest(current).get("models", 0), 0, timer.timings)

    # Unique even for two forced builds of the same inputs in one second: never reuse a live name.
    build_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{wanted[:8]}-{secrets.token_hex(2)}"
    lock.note(build_id=build_id)
    with timer.stage("catalog"):
        catalog = catalog if catalog is not None else open_catalog(settings)
        facts = catalog.facts
        catalog = transform(catalog) if transform is not None else catalog
    check_free_space(settings.home, len(catalog))  # before the vector cache or the build writes a byte
    with timer.stage("features"):
        records = list(catalog)
        hashes, avg_len = soup_hashes(records)
    with timer.stage("embeddings"):
        cache = VectorCache(encoder.name, settings.home / "cache" / "vectors", [settings.vector_cache])
        embedded = embed_missing(encoder, records, hashes, cache, show_progress=show_progress)
        if embedded:
            cache.save()
        log.info("embedded %d new soups, %d from cache", embedded, len(set(hashes)) - embedded)
    # The dimension comes from the vectors themselves: a fully cached build never loads the encoder.
    dim = cache.dim or encoder.dim
    points = PointsToWrite(records, hashes, cache, encoder.name, avg_len)
    del cache  # write_build drops it once the vectors are in Qdrant (1M float16 vectors: 768 MB)
    training = write_build(builds, build_id, settings, dim, points, catalog, trainer, timer, show_progress)
    manifest = {
        "build_id": build_id,
        "input_hash": wanted,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": len(catalog),
        "snapshots": catalog.snapshots,
        "encoder": encoder.name,
        "dim": dim,
        "text_quantization": settings.text_quantization,
        "feature_version": FEATURE_VERSION,
        "embedded": embedded,
        "timings": timer.timings,
        "transform": transform_key,
        "catalog_facts": facts,
        # How many models have the facts only some snapshots give (frontends say so, e.g. by a size filter).
        "coverage": {
            "size": sum(r.params_billions is not None for r in records),
            "likes": sum(r.likes is not None for r in records),
        },
        "training": training,
    }
    builds.publish(build_id, manifest)
    log.info("published build %s (%d models)", build_id, len(catalog))
    return BuildResult(build_id, False, len(catalog), embedded, timer.timings)


@dataclass
class PointsToWrite:
    """The records of a build with what :func:`write_points` needs beside them."""

    records: Sequence[ModelRecord]
    hashes: Sequence[str]
    cache: VectorCache | None
    encoder_name: str
    avg_len: float


def write_build(
    builds: Builds,
    build_id: str,
    settings: Settings,
    dim: int,
    points: PointsToWrite,
    catalog: Catalog,
    trainer: Trainer | None,
    timer: StageTimer,
    show_progress: bool,
) -> dict[str, Any]:
    """Write an unpublished build: points, training, indexes, id index and hit cards.  Anything failing
    discards the build, so the serving one is untouched.  Returns the trainer's summary."""
    from rich.progress import Progress

    dense = [VectorSpec(TEXT, dim, settings.text_quantization), VectorSpec(GNN, GNN_DIM)]
    store = builds.create(build_id, dense, [TOKENS, BM25])
    cards = CardWriter(builds.artifact_dir(build_id) / CARDS_DIR)
    training: dict[str, Any] = {}
    try:
        with timer.stage("qdrant upsert"), Progress(disable=not show_progress, transient=True) as bar:
            task = bar.add_task("writing points", total=len(points.records))
            progress = lambda n: bar.advance(task, n)  # noqa: E731
            assert points.cache is not None
            write_points(
                store, points.records, points.hashes, points.cache, points.encoder_name, points.avg_len, progress, cards
            )
        points.cache = None  # the vectors are in Qdrant now
        if trainer is not None:
            with timer.stage("train"):
                training = trainer(store, catalog, builds.artifact_dir(build_id))
        with timer.stage("qdrant index"):
            store.optimize()
        catalog.ids.save(builds.artifact_dir(build_id) / ID_INDEX_DIR)  # for start-up and autocomplete
        cards.save()
    except BaseException:
        cards.discard()
        store.close()
        builds.discard(build_id)  # the serving build is untouched
        raise
    store.close()
    return training


def bundle_vectors(settings: Settings, out_dir: Path, encoder: Encoder | None = None) -> tuple[int, int]:
    """Write ``out_dir/<encoder>.npz`` with exactly the vectors the bundled builds need: the default catalog,
    the catalog without the NPDL-1.0 snapshot (``HFMRS_SNAPSHOT_EXCLUDE``), and the evaluation's catalog
    with held-out lineage stripped.  Vectors already in ``settings.vector_cache`` are reused.  Returns
    (vectors written, texts embedded now)."""
    from hfmrs.lineage import lineage_edges, split_lineage, strip_holdout
    from hfmrs.sources import NPDL_SNAPSHOTS

    encoder = encoder or settings_encoder(settings)
    full = open_catalog(settings, live=False)
    without_npdl = open_catalog(settings.model_copy(update={"snapshot_exclude": NPDL_SNAPSHOTS}), live=False)
    held_out = strip_holdout(full, split_lineage(lineage_edges(full, settings.lineage_dir)))
    records = [r for catalog in (full, without_npdl, held_out) for r in catalog]
    hashes = [soup_hash(soup(r)) for r in records]
    cache = VectorCache(encoder.name, out_dir, [settings.vector_cache])
    embedded = embed_missing(encoder, records, hashes, cache, show_progress=True)
    cache.save(keep=set(hashes))
    return len(set(hashes)), embedded


def _catalog_digest(catalog: Catalog) -> str:
    digest = hashlib.sha256()
    for record in sorted(catalog, key=lambda r: r.id):
        digest.update(json.dumps(record.to_dict(), sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]
