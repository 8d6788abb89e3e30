"""Several recommender processes over one Edge build: a private shard copy for each process past the first.

Qdrant Edge lets one process open a shard (it locks the shard's WAL), and loading a shard writes into it
(it rewrites ``segment.json`` and touches memory-mapped flag files), so processes can share neither the
directory nor hard links to its files.  With ``HFMRS_WORKERS=N`` each recommender process claims a
*slot*: ``flock`` on ``HFMRS_HOME/replicas/<slot>.lock``, held for the life of the process and dropped by
the kernel when it dies.  Slot 0 serves the builds themselves, exactly as a single process does; a slot
s > 0 serves its own copy, ``HFMRS_HOME/replicas/<s>/<build id>/shard``, made when it switches to that
build and removed at the switch after (the id index and hit cards stay shared: they are read-only memory
maps of the build).  A Qdrant server backend needs none of this: every process is a client of the server.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
from pathlib import Path

from hfmrs.settings import Settings
from hfmrs.store.base import ModelStore
from hfmrs.store.builds import Builds, EdgeBuilds, NotEnoughSpaceError, open_builds

log = logging.getLogger(__name__)

REPLICAS_DIR = "replicas"


class NoFreeSlotError(RuntimeError):
    """More recommender processes than the slots HFMRS_WORKERS allows are serving this home."""


def claim_slot(home: Path, slots: int) -> tuple[int, int]:
    """The lowest free slot and the descriptor that holds its lock (keep it open while serving)."""
    root = home / REPLICAS_DIR
    root.mkdir(parents=True, exist_ok=True)
    for slot in range(slots):
        fd = os.open(root / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return slot, fd
    raise NoFreeSlotError(f"all {slots} serving slots of {home} are taken by running recommender processes")


def tree_bytes(path: Path) -> int:
    """Bytes the files under ``path`` take on disk.  Not their sizes: Qdrant preallocates its WAL and flag
    files as sparse files (the bundled build's shard: 470 MB of sizes, 134 MB on disk)."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def copy_shard(source: Path, target: Path) -> None:
    """``source`` copied to ``target`` with its holes kept (GNU cp; shared blocks where the filesystem
    can), else a plain copy, which writes the holes out as zeros."""
    try:
        subprocess.run(
            ["cp", "-a", "--sparse=always", "--reflink=auto", str(source), str(target)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        log.info("cp could not copy %s sparsely (%s); copying it plainly", source, error)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


class ReplicaBuilds(EdgeBuilds):
    """The home's builds as one serving process sees them: slot 0 opens them in place, other slots open
    their own copies.  Everything but :meth:`open` is the home's :class:`EdgeBuilds`."""

    def __init__(self, home: Path, slot: int, lock_fd: int | None = None, keep: int = 2):
        super().__init__(home, keep=keep)
        self.slot = slot
        self._lock_fd = lock_fd
        self.copies = home / REPLICAS_DIR / str(slot)
        self._serving: str | None = None  # the copy the last open() made, in use until the next switch
        if slot > 0:
            shutil.rmtree(self.copies, ignore_errors=True)  # a dead process's copies: this slot starts afresh

    def open(self, build_id: str) -> ModelStore:
        if self.slot == 0:
            return super().open(build_id)
        from hfmrs.store.edge import EdgeStore

        self._drop_copies(but=build_id)
        shard = self._copy(build_id)
        try:
            store = EdgeStore.open(shard)
        except Exception:  # a file copied while the slot-0 process rewrote it: copy once more
            log.warning("could not open the copy of build %s in slot %d; copying it again", build_id, self.slot)
            shutil.rmtree(shard.parent, ignore_errors=True)
            store = EdgeStore.open(self._copy(build_id))
        self._serving = build_id
        return store

    def _copy(self, build_id: str) -> Path:
        target = self.copies / build_id
        if (target / "shard").exists():
            return target / "shard"
        source = self.shard_dir(build_id)
        if not source.exists():
            raise FileNotFoundError(f"no Qdrant Edge shard at {source}")
        self.copies.mkdir(parents=True, exist_ok=True)
        needed, free = tree_bytes(source), shutil.disk_usage(self.copies).free
        if free < needed:
            raise NotEnoughSpaceError(
                f"not enough free space in {self.copies} for worker {self.slot}'s copy of build {build_id}: "
                f"it needs {needed / 1e6:,.1f} MB, {free / 1e6:,.1f} MB are free"
            )
        partial = self.copies / f"{build_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        copy_shard(source, partial / "shard")
        os.replace(partial, target)  # a copy is whole or absent
        log.info("worker slot %d: copied build %s (%.1f MB)", self.slot, build_id, needed / 1e6)
        return target / "shard"

    def _drop_copies(self, but: str) -> None:
        """Drop the copies of every build but ``but`` and the one serving now (requests may still run on it)."""
        if not self.copies.exists():
            return
        for path in self.copies.iterdir():
            if path.name not in (but, self._serving):
                shutil.rmtree(path, ignore_errors=True)

    def release(self) -> None:
        """Give the slot back and drop its copies (the process exits anyway; tests call it)."""
        if self.slot > 0:
            shutil.rmtree(self.copies, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def serving_builds(settings: Settings) -> Builds:
    """The builds a recommender process serves: the home's own with one worker or a Qdrant server, else a
    slot of :class:`ReplicaBuilds`.  Twice ``workers`` slots exist, so a rolling restart (uvicorn starts
    each replacement before it stops the worker it replaces) finds one free."""
    builds = open_builds(settings)
    if settings.workers == 1 or not isinstance(builds, EdgeBuilds):
        return builds
    slot, fd = claim_slot(settings.home, 2 * settings.workers)
    log.info("recommender process %d serves slot %d of %s", os.getpid(), slot, settings.home)
    return ReplicaBuilds(settings.home, slot, fd, keep=settings.keep_builds)
