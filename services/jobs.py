"""Background jobs for the services: one at a time per runner, with status and progress."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class JobConflictError(RuntimeError):
    """A job is already running."""


class UnknownJobError(KeyError):
    pass


@dataclass
class Job:
    id: str
    kind: str
    status: str = "queued"  # queued | running | succeeded | failed
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": dict(self.progress),
            "result": self.result,
            "error": self.error,
            "created": self.created,
            "finished": self.finished,
        }


class JobRunner:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._running: Job | None = None

    def submit(self, kind: str, work: Callable[[Callable[..., None]], dict[str, Any]]) -> Job:
        with self._lock:
            if self._running is not None:
                raise JobConflictError(f"job {self._running.id} ({self._running.kind}) is still running")
            job = Job(id=uuid.uuid4().hex[:12], kind=kind)
            self._jobs[job.id] = job
            self._running = job

        def progress(**values: Any) -> None:
            job.progress.update(values)

        def run() -> None:
            job.status = "running"
            try:
                job.result = work(progress)
                job.status = "succeeded"
            except Exception as error:  # a failed job reports why; the service keeps running
                log.exception("job %s failed", job.id)
                job.status, job.error = "failed", f"{error.__class__.__name__}: {error}"
            finally:
                job.finished = time.time()
                with self._lock:
                    self._running = None

        threading.Thread(target=run, name=f"job-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise UnknownJobError(job_id) from None

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job ends (tests, CLI); bounded."""
        deadline = time.monotonic() + timeout
        job = self.get(job_id)
        while job.status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
        return job
