"""Serving a build that can change underneath: the live swap.

:class:`LiveEngine` hands out the current :class:`~hfmrs.engine.Engine` per request.  When a new build
is published (the Edge pointer file or the server alias moves), the next request opens the new build
and later requests use it; requests already running finish on the old engine, which is closed when
the last of them is done.  No restart, no request sees a half-switched state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from hfmrs.engine import Engine
from hfmrs.settings import Settings
from hfmrs.store.builds import Builds, NoBuildError, StoreUnavailableError
from hfmrs.store.replicas import serving_builds

log = logging.getLogger(__name__)


class _Lease:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.users = 0
        self.retired = False


class LiveEngine:
    def __init__(self, settings: Settings, builds: Builds | None = None, check_interval: float = 1.0):
        self.settings = settings
        self._owns_builds = builds is None
        self.builds = builds or serving_builds(settings)  # a worker's own slot with HFMRS_WORKERS > 1
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._switch_lock = threading.Lock()  # one opener at a time; readers never wait on it
        self._lease: _Lease | None = None
        self._checked_at = 0.0
        self._unopenable: str | None = None  # a newer build that failed to open: not retried until reload()

    @property
    def ready(self) -> bool:
        try:
            self._maybe_switch()
        except NoBuildError:
            return False
        return self._lease is not None

    @property
    def build_id(self) -> str | None:
        """The build serving now (after the periodic check for a newer one); None while none can serve."""
        try:
            self._maybe_switch()
        except (NoBuildError, StoreUnavailableError):
            return None
        lease = self._lease
        return lease.engine.build_id if lease is not None else None

    @contextmanager
    def acquire(self) -> Iterator[Engine]:
        """The current engine for the duration of one request."""
        self._maybe_switch()
        with self._lock:
            lease = self._lease
            if lease is None:
                raise NoBuildError("no completed build to serve yet; run `hfmrs build`")
            lease.users += 1
        try:
            yield lease.engine
        finally:
            with self._lock:
                lease.users -= 1
                close = lease.retired and lease.users == 0
            if close:
                lease.engine.close()

    def reload(self) -> str | None:
        """Check for a new build now (admin endpoint, tests)."""
        self._checked_at = 0.0
        self._unopenable = None  # the operator may have freed the disk: try again
        self._maybe_switch()
        return self._lease.engine.build_id if self._lease else None

    def _maybe_switch(self) -> None:
        now = time.monotonic()
        if self._lease is not None and now - self._checked_at < self.check_interval:
            return
        if not self._switch_lock.acquire(blocking=self._lease is None):
            return  # another request is switching; keep serving the current build meanwhile
        try:
            self._checked_at = now
            current = self.builds.current_id()
            if current is None:
                raise NoBuildError("no completed build to serve yet; run `hfmrs build`")
            if self._lease is not None and current in (self._lease.engine.build_id, self._unopenable):
                return
            try:
                engine = Engine.open(self.settings, self.builds, current)
            except Exception as error:  # a disk full or read-only, files gone: say so, keep what serves
                if self._lease is None:
                    raise StoreUnavailableError(f"cannot open build {current}: {error}") from error
                # Once, not at every check: opening a large build takes seconds and would fail the same way.
                self._unopenable = current
                serving = self._lease.engine.build_id
                log.error("cannot open build %s (%s); still serving %s until a reload", current, error, serving)
                return
            with self._lock:
                old, self._lease = self._lease, _Lease(engine)
                close_old = old is not None and old.users == 0
                if old is not None:
                    old.retired = True
            log.info("now serving build %s", current)
            if close_old and old is not None:
                old.engine.close()
        finally:
            self._switch_lock.release()

    def close(self) -> None:
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is not None:
            lease.engine.close()
        # A worker's slot and shard copy go with it (the next process in the slot would drop them anyway).
        if self._owns_builds and (release := getattr(self.builds, "release", None)) is not None:
            release()
