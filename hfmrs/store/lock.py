"""One builder per home: ``HFMRS_HOME/build.lock``, held with ``flock(2)`` for as long as a build runs.

Two builders in one home (``hfmrs up``'s background training, an ingest job, ``hfmrs train``, a cron
``refresh``) would race on the serving pointer, and the second one's pruning would delete the first one's
build in progress.  With the lock, the second refuses at once and says who builds.  The kernel drops a
flock when its process dies, ``kill -9`` included, so a lock left behind by a dead builder is simply
taken over: the file's JSON (pid, start time, build id) only informs the refusal, it never decides.
Locks from separate ``open()`` calls conflict even inside one process, so two threads are kept apart too.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOCK_NAME = "build.lock"


class BuildRunningError(RuntimeError):
    """Another process (or thread) is building in this home."""


class HeldLock:
    """The lock while it is held: :meth:`note` records what is being built, for anyone refused."""

    def __init__(self, fd: int, started: str):
        self.fd = fd
        self.holder: dict[str, Any] = {"pid": os.getpid(), "started": started}
        self._write()

    def note(self, **fields: Any) -> None:
        self.holder.update(fields)
        self._write()

    def _write(self) -> None:
        data = json.dumps(self.holder).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)


def describe(holder: dict[str, Any]) -> str:
    what = f"build {holder['build_id']}" if holder.get("build_id") else "a build"
    who = f"pid {holder.get('pid', '?')}" + (f", started {holder['started']}" if holder.get("started") else "")
    return f"{what} is running in this home ({who})"


def _read(fd: int) -> dict[str, Any]:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (ValueError, OSError):
        return {}


@contextmanager
def build_lock(home: Path) -> Iterator[HeldLock]:
    """Hold the home's build lock, or raise :class:`BuildRunningError` naming the builder that has it."""
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildRunningError(describe(_read(fd))) from None
        yield HeldLock(fd, datetime.now(UTC).isoformat(timespec="seconds"))
    finally:
        os.close(fd)  # closing the descriptor releases the lock
