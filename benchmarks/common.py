"""Shared helpers of the benchmark scripts: machine line, percentiles, peak RSS, tables, JSON, and
synthetic catalogs/vectors built from the bundled snapshots.

Every script imports this module first; importing it puts the repository root on ``sys.path`` so
``python benchmarks/<script>.py`` works from a fresh clone without installing anything else.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # scripts run as `python benchmarks/x.py`: sys.path[0] is benchmarks/
    sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"
# Offline everywhere: a benchmark must never reach the Hub (weights come from the bundled package).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from hfmrs.catalog import BaseModel, Catalog, ModelRecord  # noqa: E402  (needs the sys.path line above)

SEED = 7


# -- machine ---------------------------------------------------------------------------------------
def _version(dist: str) -> str:
    # importlib.metadata, not `import torch`: reading a version must not cost seconds or memory.
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    import psutil

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": _version("torch"),
        "qdrant_edge_py": _version("qdrant-edge-py"),
        "sentence_transformers": _version("sentence-transformers"),
        "numpy": _version("numpy"),
        # The load average at start says how noisy the numbers are (the machine may be shared).
        "load_avg_1m": round(load[0], 2),
        "hostname": socket.gethostname(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def machine_line(info: dict[str, Any] | None = None) -> str:
    m = info or machine_info()
    return (
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}, Python {m['python']}, "
        f"torch {m['torch']}, qdrant-edge-py {m['qdrant_edge_py']}, sentence-transformers "
        f"{m['sentence_transformers']}, numpy {m['numpy']}; load avg {m['load_avg_1m']} at start"
    )


# -- measurements ----------------------------------------------------------------------------------
def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """Latency summary in milliseconds (nearest-rank percentiles: no interpolation between samples)."""
    if not samples_s:
        return {"n": 0, "p50_ms": float("nan"), "p90_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    ms = np.sort(np.asarray(samples_s, dtype=np.float64) * 1000.0)

    def rank(p: float) -> float:
        return float(ms[min(len(ms) - 1, max(0, int(np.ceil(p / 100 * len(ms))) - 1))])

    return {
        "n": len(ms),
        "mean_ms": round(float(statistics.fmean(ms)), 4),
        "p50_ms": round(rank(50), 4),
        "p90_ms": round(rank(90), 4),
        "p99_ms": round(rank(99), 4),
        "max_ms": round(float(ms[-1]), 4),
    }


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident set size of this process (or of its waited-for children), in MiB (Linux: KiB)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    kib = resource.getrusage(who).ru_maxrss
    return round(kib / 1024 if sys.platform != "darwin" else kib / 2**20, 1)


class MemorySampler:
    """Samples this process's resident memory every ``interval`` seconds in a thread (Linux).

    ``ru_maxrss`` counts memory-mapped file pages (Qdrant's segments, WAL) that the kernel may drop at
    any time; the peak of ``RssAnon`` is the heap a run really needs.  Both peaks are reported.
    """

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.peak_anon_mb = 0.0
        self.peak_file_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        except OSError:
            return
        for key, attr in (("RssAnon", "peak_anon_mb"), ("RssFile", "peak_file_mb")):
            if key in fields:
                value = int(fields[key].split()[0]) / 1024
                setattr(self, attr, round(max(getattr(self, attr), value), 1))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> MemorySampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


class Stopwatch:
    """Named wall-clock sections: ``with sw("upsert"): ...`` then ``sw.timings``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 4)


def time_calls(fn: Any, args: Sequence[Any], max_seconds: float | None = None) -> list[float]:
    """Per-call latencies of ``fn(arg)`` for each arg, stopping early after ``max_seconds`` (bounded runs)."""
    out: list[float] = []
    deadline = time.perf_counter() + max_seconds if max_seconds else None
    for arg in args:
        start = time.perf_counter()
        fn(arg)
        end = time.perf_counter()
        out.append(end - start)
        if deadline is not None and end > deadline:
            break
    return out


# -- output ----------------------------------------------------------------------------------------
def write_json(path: Path | str, data: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], note: str | None = None) -> None:
    """A Markdown table (rich's MARKDOWN box) so the output pastes straight into the README."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.MARKDOWN, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(fmt(v) for v in row))
    console = Console(width=200, soft_wrap=True)
    console.print(table)
    if note:
        console.print(note, highlight=False)
    console.print()


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def parse_n(value: str) -> int | str:
    """``bundled`` (the real catalog), or a count such as ``100000``, ``100k`` or ``1M``."""
    text = value.strip().lower().replace("_", "").replace(",", "")
    if text in ("bundled", "real"):
        return "bundled"
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


# -- real and synthetic data -----------------------------------------------------------------------
def bundled_catalog() -> Catalog:
    from hfmrs.catalog import load_catalog
    from hfmrs.settings import BUNDLED_DATA

    return load_catalog(BUNDLED_DATA / "snapshots")


def bundled_vectors() -> dict[str, np.ndarray]:
    """Soup hash -> float16 MiniLM vector, from the vectors shipped with the bundled catalog."""
    from hfmrs.settings import BUNDLED_DATA

    files = sorted((BUNDLED_DATA / "vectors").glob("*.npz"))
    if not files:
        raise FileNotFoundError("no shipped vectors under data/vectors")
    with np.load(files[0], allow_pickle=False) as data:
        return dict(zip(data["hashes"].tolist(), data["vectors"], strict=True))


def small_catalog(limit: int) -> Catalog:
    """The first ``limit`` rows of each bundled snapshot, merged: real rows in a second, for smoke runs
    (parsing all 20k rows costs ~10 s on a busy 2-core machine)."""
    from itertools import islice

    from hfmrs.catalog import merge_snapshots, normalise_row, read_rows, snapshot_date, snapshot_files
    from hfmrs.settings import BUNDLED_DATA

    snapshots = []
    for path in snapshot_files(BUNDLED_DATA / "snapshots"):
        rows = islice(read_rows(path), limit)
        snapshots.append([r for row in rows if (r := normalise_row(row, snapshot_date(path)))])
    return merge_snapshots(snapshots)


def real_rows(limit: int | None = None) -> tuple[list[ModelRecord], np.ndarray]:
    """Bundled records and their shipped MiniLM vectors (float32, unit length).

    Full catalog: only records with a shipped vector (all but a handful).  With ``limit`` (smoke runs),
    a partial merge whose soups may differ from the full catalog's: rows without a shipped vector then
    get a seeded random unit vector, which is fine for checking that scripts run, not for numbers.
    """
    from hfmrs.features import soup, soup_hash

    shipped = bundled_vectors()
    catalog = bundled_catalog() if limit is None else small_catalog(limit)
    rng = np.random.default_rng(SEED)
    dim = len(next(iter(shipped.values())))
    records, vectors = [], []
    for record in catalog:
        vector = shipped.get(soup_hash(soup(record)))
        if vector is None and limit is not None:
            vector = rng.normal(size=dim).astype(np.float32)
        if vector is not None:
            records.append(record)
            vectors.append(vector)
    matrix = np.asarray(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return records, matrix


_REAL_CACHE: dict[int | None, tuple[list[ModelRecord], np.ndarray]] = {}


def real_rows_cached(limit: int | None = None) -> tuple[list[ModelRecord], np.ndarray]:
    """:func:`real_rows`, parsed once per process (several sizes in one run reuse it)."""
    if limit not in _REAL_CACHE:
        _REAL_CACHE[limit] = real_rows(limit)
    return _REAL_CACHE[limit]


def synthetic_catalog(
    n: int, noise: float = 0.025, seed: int = SEED, real_limit: int | None = None
) -> tuple[list[ModelRecord], np.ndarray]:
    """``n`` records with unique ids and their vectors (float16, unit length).

    The first min(n, real) rows are the real bundled models with their shipped vectors (``real_limit``:
    only that many rows of each snapshot, for smoke runs).  Each further
    row recombines real rows' fields: what a model *is* (name, task, library, architectures, type,
    base models, descriptive tags) comes from one "parent" row, whose vector it inherits plus Gaussian
    noise, renormalised; who made it and how popular it is (author, datasets, languages, license,
    downloads, likes, dates) come from other random rows.  With ``noise`` 0.025 per dimension over 384
    dimensions a child sits at cosine ~0.9 from its parent, so every synthetic point has real near
    neighbours (its parent and siblings) and the HNSW graph and recall figures see a realistic
    neighbourhood structure, not uniform noise where every point is equally far from every other.
    """
    records, matrix = real_rows_cached(real_limit)
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    take = min(n, len(records))
    out: list[ModelRecord] = list(records[:take])
    if n <= take:
        return out, matrix[:take].astype(np.float16)
    extra = n - take
    parents = rng.integers(0, len(records), size=extra)
    vectors = np.empty((n, matrix.shape[1]), dtype=np.float16)
    vectors[:take] = matrix[:take]
    # Blocks bound the float32 scratch memory at 1M rows (a float32 1M x 384 copy would be 1.5 GB).
    block = 65_536
    for start in range(0, extra, block):
        rows = parents[start : start + block]
        chunk = matrix[rows] + rng.normal(0.0, noise, size=(len(rows), matrix.shape[1])).astype(np.float32)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        vectors[take + start : take + start + len(rows)] = chunk
    for i, parent_index in enumerate(parents.tolist()):
        parent = records[parent_index]
        who = records[pick.randrange(len(records))]
        pop = records[pick.randrange(len(records))]
        author = who.author or "anon"
        # A unique, Hub-shaped id: the suffix keeps the parent's name words (the soup's first field).
        model_id = f"{author}/{parent.name}-syn{take + i}"
        out.append(
            replace(
                parent,
                id=model_id,
                author=author,
                datasets=list(who.datasets),
                languages=list(who.languages),
                license=who.license,
                downloads=pop.downloads,
                likes=pop.likes,
                last_modified=pop.last_modified,
                created_at=pop.created_at,
                params=parent.params,
                aliases=[],
                history={},
                base_models=[BaseModel(b.id, b.relation) for b in parent.base_models],
                tags=list(parent.tags),
                architectures=list(parent.architectures),
                arxiv=list(parent.arxiv),
            )
        )
    return out, vectors


class PrecomputedEncoder:
    """An :class:`hfmrs.embedding.Encoder` for synthetic builds whose vectors are all in the vector cache.

    ``synthetic_build`` writes the synthetic vectors as this encoder's vector-cache file first (the
    same path as the vectors shipped for the bundled catalog), so the build embeds nothing and its
    "embeddings" stage measures loading the cache; a call to :meth:`encode` means a soup was missed.
    """

    def __init__(self, dim: int, name: str = "synthetic-minilm@128"):
        self.name = name
        self.dim = dim

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        raise RuntimeError(f"{len(texts)} soups are missing from the synthetic vector cache")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def header(name: str, smoke: bool) -> dict[str, Any]:
    info = machine_info()
    print(f"# {name}{' (smoke: tiny sizes, numbers mean nothing)' if smoke else ''}")
    print(machine_line(info))
    print()
    return {"benchmark": name, "smoke": smoke, "machine": info}


def synthetic_build(
    home: Path,
    n: int,
    show_progress: bool = False,
    trainer: Any = None,
    force: bool = False,
    real_limit: int | None = None,
) -> tuple[Any, dict[str, float]]:
    """Build a synthetic ``n``-model catalog into ``home`` through :func:`hfmrs.pipeline.build`.

    Returns (BuildResult, extra timings): ``synthesize`` (making the data, not part of a real build)
    and ``build_total`` (the build's wall time, which also counts its untimed input hash).
    """
    from hfmrs.embedding import VectorCache
    from hfmrs.features import soup, soup_hash
    from hfmrs.pipeline import build
    from hfmrs.settings import Settings

    sw = Stopwatch()
    with sw("synthesize"):
        records, vectors = synthetic_catalog(n, real_limit=real_limit)
        encoder = PrecomputedEncoder(int(vectors.shape[1]))
        # The vectors become the encoder's cache file under HFMRS_HOME (as shipped vectors would be).
        cache = VectorCache(encoder.name, home / "cache" / "vectors")
        cache.put_many([soup_hash(soup(r)) for r in records], vectors)
        cache.save()
        del cache, vectors
        catalog = Catalog(records)
        del records
    # No shipped vector cache: the synthetic encoder's name never matches it anyway, and reading the
    # 17k shipped vectors would only add noise to the "embeddings" stage.
    settings = Settings(home=home, vector_cache=home / "no-shipped-vectors", _env_file=None)
    with sw("build_total"):
        result = build(
            settings, encoder=encoder, catalog=catalog, show_progress=show_progress, trainer=trainer, force=force
        )
    return result, sw.timings
