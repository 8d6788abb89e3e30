"""A 2-D map of the catalog (PCA of the `text` vectors) for the web UI's "explore" tab.

Computed once per build: in memory per build id, and in a JSON file in the build's artifact folder so
a restarted service (or a second replica on the same disk) does not recompute it.  PCA is O(N·d) in time
and memory; nothing here is N×N, so it stays cheap for the full Hub catalog.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hfmrs.store.base import TEXT, ModelStore

log = logging.getLogger(__name__)

MAP_VERSION = 1  # bump when the file's content changes meaning, so old cache files are ignored
MAP_FILE = f"map-pca-v{MAP_VERSION}.json"
FIELDS = ("id", "pipeline_tag", "cluster", "downloads")
SAMPLE_SEED = 0  # a fixed seed: the same request draws the same subsample every time
_KEEP_BUILDS = 2  # builds kept in memory: the serving one and the one being swapped out

_lock = threading.Lock()
_memory: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()


def compute_map(store: ModelStore) -> list[dict[str, Any]]:
    """Every model as ``{"id", "x", "y", "pipeline_tag", "cluster", "downloads"}``, sorted by id."""
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    vectors: list[Any] = []
    for point in store.scroll(fields=list(FIELDS), with_vectors=[TEXT]):
        vector = point.vectors.get(TEXT)
        if not isinstance(vector, list) or not vector:
            continue  # a point without a dense text vector has no place on the map
        ids.append(point.id)
        rows.append(point.payload)
        vectors.append(vector)
    if not ids:
        return []
    matrix = np.asarray(vectors, dtype=np.float32)
    coords = _pca_2d(matrix)
    points = [
        {
            "id": model_id,
            "x": round(float(x), 5),
            "y": round(float(y), 5),
            "pipeline_tag": payload.get("pipeline_tag") or None,
            "cluster": payload.get("cluster"),
            "downloads": int(payload.get("downloads") or 0),
        }
        for model_id, payload, (x, y) in zip(ids, rows, coords, strict=True)
    ]
    points.sort(key=lambda p: p["id"])
    return points


def _pca_2d(matrix: np.ndarray) -> np.ndarray:
    """The first two principal components; zeros where the data has fewer than two dimensions of spread."""
    n, d = matrix.shape
    out = np.zeros((n, 2), dtype=np.float64)
    components = min(2, n, d)
    if n < 2 or components < 1:
        return out
    from sklearn.decomposition import PCA

    # A fixed random_state: the randomized solver (chosen for big inputs) then gives the same map each time.
    projected = PCA(n_components=components, random_state=SAMPLE_SEED).fit_transform(matrix)
    out[:, :components] = projected
    # PCA's component signs are arbitrary; fix them so the map does not flip between builds or solvers.
    for column in range(components):
        pivot = int(np.argmax(np.abs(out[:, column])))
        if out[pivot, column] < 0:
            out[:, column] *= -1
    return out


def catalog_map(store: ModelStore, build_id: str, artifact_dir: Path | None = None) -> list[dict[str, Any]]:
    """The build's map, computed on first use and then served from memory (or the cache file)."""
    with _lock:  # one computation per build even when the first requests arrive together
        if build_id in _memory:
            _memory.move_to_end(build_id)
            return _memory[build_id]
        points = _read_cache(artifact_dir, build_id) if artifact_dir is not None else None
        if points is None:
            points = compute_map(store)
            log.info("computed the catalog map of build %s (%d points)", build_id, len(points))
            if artifact_dir is not None:
                _write_cache(artifact_dir, build_id, points)
        _memory[build_id] = points
        while len(_memory) > _KEEP_BUILDS:
            _memory.popitem(last=False)
        return points


def _read_cache(artifact_dir: Path, build_id: str) -> list[dict[str, Any]] | None:
    path = artifact_dir / MAP_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:  # a damaged cache is recomputed, never served
        log.warning("ignoring unreadable map cache %s: %s", path, error)
        return None
    if not isinstance(data, dict) or data.get("build_id") != build_id or not isinstance(data.get("points"), list):
        return None
    return data["points"]


def _write_cache(artifact_dir: Path, build_id: str, points: list[dict[str, Any]]) -> None:
    path = artifact_dir / MAP_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        artifact_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"build_id": build_id, "method": "pca", "points": points}))
        os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
    except OSError as error:  # a read-only disk only costs a recomputation after a restart
        log.warning("could not write map cache %s: %s", path, error)


def subsample(points: Sequence[dict[str, Any]], limit: int, keep: Iterable[str] = ()) -> list[dict[str, Any]]:
    """At most ``limit`` points, always including ``keep`` (the chosen model and its neighbours).

    The rest is a seeded random sample, so the map shows the catalog's real spread (not only the most
    downloaded corner) and the same request gives the same picture."""
    wanted = set(keep)
    kept = [p for p in points if p["id"] in wanted]
    others = [p for p in points if p["id"] not in wanted]
    room = max(0, limit - len(kept))
    if len(others) > room:
        rng = np.random.default_rng(SAMPLE_SEED)
        chosen = sorted(rng.choice(len(others), size=room, replace=False).tolist())
        others = [others[i] for i in chosen]
    return sorted([*kept, *others], key=lambda p: p["id"])
