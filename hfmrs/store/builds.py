"""Versioned builds, switched atomically.

A build writes a *new* Edge shard directory or server collection; only when it is complete is the
serving pointer moved to it (a file rename for Edge, one alias operation on a server).  A build that
fails or is interrupted never touches the build being served.  Each build carries a manifest (JSON):
its input hash, encoder, sizes and stage timings.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from hfmrs.settings import Settings
from hfmrs.store.base import ModelStore, VectorSpec

log = logging.getLogger(__name__)

ID_INDEX_DIR = "id_index"  # a build's memory-mapped id index (hfmrs.ids.IdIndex), in its artifact dir


class NoBuildError(RuntimeError):
    """There is no completed build to serve yet (run ``hfmrs build``)."""


class StoreUnavailableError(RuntimeError):
    """The serving build exists but cannot be opened (a disk full or read-only, files gone); says why."""


class NotEnoughSpaceError(RuntimeError):
    """A build would not fit on the home's disk; refused before anything is written."""


BYTES_PER_MODEL = 10_000  # a build's disk per model, with room: 7.1 KB measured at 17.5k, 5.0 KB at 1M
# ... plus what any build allocates (Edge's WAL and segment files): a 15-model build filled 31 MB of a tmpfs.
BUILD_OVERHEAD_BYTES = 64_000_000


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 1e3:,.0f} KB"


def check_free_space(home: Path, models: int) -> None:
    """Refuse a build the disk cannot hold: a full disk mid-build kills the process (SIGBUS in a memory-mapped
    write) and leaves a partial build behind."""
    home.mkdir(parents=True, exist_ok=True)
    needed, free = BUILD_OVERHEAD_BYTES + models * BYTES_PER_MODEL, shutil.disk_usage(home).free
    if free < needed:
        raise NotEnoughSpaceError(
            f"not enough free space in {home}: a build of {models:,} models needs about {_size(needed)}, "
            f"{_size(free)} are free"
        )


class Builds(Protocol):
    def create(self, build_id: str, dense: Sequence[VectorSpec], sparse: Sequence[str]) -> ModelStore: ...

    def publish(self, build_id: str, manifest: dict[str, Any]) -> None:
        """Make ``build_id`` the serving build, atomically."""
        ...

    def discard(self, build_id: str) -> None: ...

    def current_id(self) -> str | None: ...

    def manifest(self, build_id: str) -> dict[str, Any]: ...

    def open(self, build_id: str) -> ModelStore: ...

    def completed(self) -> list[str]: ...

    def artifact_dir(self, build_id: str) -> Path:
        """A local folder for a build's side files (id index, k-means curve, GNN checkpoints)."""
        ...


class EdgeBuilds:
    """Builds as Edge shard directories under ``HFMRS_HOME/builds/<id>/``; ``HFMRS_HOME/CURRENT`` names
    the serving one and is replaced with an atomic rename."""

    def __init__(self, home: Path, keep: int = 2):
        self.home = home
        self.root = home / "builds"
        self.pointer = home / "CURRENT"
        self.keep = keep

    def _dir(self, build_id: str) -> Path:
        return self.root / build_id

    def shard_dir(self, build_id: str) -> Path:
        """The build's Qdrant Edge shard (what a worker process past the first copies)."""
        return self._dir(build_id) / "shard"

    def artifact_dir(self, build_id: str) -> Path:
        path = self._dir(build_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def create(self, build_id: str, dense: Sequence[VectorSpec], sparse: Sequence[str]) -> ModelStore:
        from hfmrs.store.edge import EdgeStore

        path = self._dir(build_id)
        if path.exists():
            raise FileExistsError(f"build {build_id} exists already")
        return EdgeStore.create(self.shard_dir(build_id), dense, sparse)

    def open(self, build_id: str) -> ModelStore:
        from hfmrs.store.edge import EdgeStore

        return EdgeStore.open(self.shard_dir(build_id))

    def publish(self, build_id: str, manifest: dict[str, Any]) -> None:
        _write_json(self._dir(build_id) / "manifest.json", manifest)
        tmp = self.pointer.with_suffix(".tmp")
        tmp.write_text(build_id + "\n")
        os.replace(tmp, self.pointer)  # the atomic switch
        self._prune()

    def current_id(self) -> str | None:
        try:
            build_id = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return build_id if (self._dir(build_id) / "manifest.json").exists() else None

    def manifest(self, build_id: str) -> dict[str, Any]:
        return json.loads((self._dir(build_id) / "manifest.json").read_text())

    def update_manifest(self, build_id: str, **fields: Any) -> None:
        manifest = self.manifest(build_id)
        manifest.update(fields)
        _write_json(self._dir(build_id) / "manifest.json", manifest)

    def completed(self) -> list[str]:
        if not self.root.exists():
            return []
        done = [p for p in self.root.iterdir() if (p / "manifest.json").exists()]
        return [p.name for p in sorted(done, key=lambda p: (p / "manifest.json").stat().st_mtime)]

    def discard(self, build_id: str) -> None:
        if build_id != self.current_id():
            shutil.rmtree(self._dir(build_id), ignore_errors=True)

    def _prune(self) -> None:
        """Keep the newest ``keep`` completed builds and drop unfinished leftovers."""
        current = self.current_id()
        completed = self.completed()
        for build_id in completed[: max(0, len(completed) - self.keep)]:
            if build_id != current:
                shutil.rmtree(self._dir(build_id), ignore_errors=True)
        for path in self.root.iterdir():
            if not (path / "manifest.json").exists() and path.name != current:
                shutil.rmtree(path, ignore_errors=True)


class ServerBuilds:
    """Builds as collections ``<alias>-<id>`` on a Qdrant server; the alias is the serving pointer.

    The manifest is stored as the collection's metadata, so every service can read it from Qdrant.
    Side files go under ``HFMRS_HOME/builds/<id>`` on the machine that built them.
    """

    def __init__(
        self, client: Any, alias: str, home: Path, shard_number: int = 1, replication_factor: int = 1, keep: int = 2
    ):
        self.client = client
        self.alias = alias
        self.home = home
        self.shard_number = shard_number
        self.replication_factor = replication_factor
        self.keep = keep

    def _collection(self, build_id: str) -> str:
        return f"{self.alias}-{build_id}"

    def artifact_dir(self, build_id: str) -> Path:
        path = self.home / "builds" / build_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def create(self, build_id: str, dense: Sequence[VectorSpec], sparse: Sequence[str]) -> ModelStore:
        from hfmrs.store.server import ServerStore

        name = self._collection(build_id)
        if self.client.collection_exists(name):
            self.client.delete_collection(name)
        return ServerStore.create(
            self.client, name, dense, sparse, shard_number=self.shard_number, replication_factor=self.replication_factor
        )

    def open(self, build_id: str) -> ModelStore:
        from hfmrs.store.server import ServerStore

        return ServerStore(self.client, self._collection(build_id))

    def publish(self, build_id: str, manifest: dict[str, Any]) -> None:
        from qdrant_client import models as qm

        name = self._collection(build_id)
        self.client.update_collection(name, metadata={"hfmrs_manifest": manifest})
        ops: list[Any] = []
        if self.current_id() is not None:
            ops.append(qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=self.alias)))
        ops.append(qm.CreateAliasOperation(create_alias=qm.CreateAlias(collection_name=name, alias_name=self.alias)))
        self.client.update_collection_aliases(change_aliases_operations=ops)  # one atomic request
        self._prune()

    def current_id(self) -> str | None:
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.alias:
                return alias.collection_name.removeprefix(f"{self.alias}-")
        return None

    def manifest(self, build_id: str) -> dict[str, Any]:
        info = self.client.get_collection(self._collection(build_id))
        return dict((info.config.metadata or {}).get("hfmrs_manifest", {}))

    def update_manifest(self, build_id: str, **fields: Any) -> None:
        manifest = self.manifest(build_id)
        manifest.update(fields)
        self.client.update_collection(self._collection(build_id), metadata={"hfmrs_manifest": manifest})

    def completed(self) -> list[str]:
        prefix = f"{self.alias}-"
        names = [c.name for c in self.client.get_collections().collections if c.name.startswith(prefix)]
        done = []
        for name in names:
            build_id = name.removeprefix(prefix)
            manifest = self.manifest(build_id)
            if manifest:
                done.append((manifest.get("created", ""), build_id))
        return [b for _, b in sorted(done)]

    def discard(self, build_id: str) -> None:
        if build_id != self.current_id():
            self.client.delete_collection(self._collection(build_id))

    def _prune(self) -> None:
        current = self.current_id()
        completed = self.completed()
        for build_id in completed[: max(0, len(completed) - self.keep)]:
            if build_id != current:
                self.client.delete_collection(self._collection(build_id))


def open_builds(settings: Settings) -> EdgeBuilds | ServerBuilds:
    """Edge under ``HFMRS_HOME`` by default; a Qdrant server when ``QDRANT_URL`` is set."""
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
        return ServerBuilds(
            client,
            settings.collection,
            settings.home,
            shard_number=settings.shard_number,
            replication_factor=settings.replication_factor,
            keep=settings.keep_builds,
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    return EdgeBuilds(settings.home, keep=settings.keep_builds)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
