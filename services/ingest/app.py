"""The ingest service: writes model payloads into Qdrant as jobs (build from snapshots; crawl the Hub).

A build job runs :func:`hfmrs.pipeline.build` with the embedder *service* as its encoder, so only the
soups missing from the vector cache travel to the embedder, over HTTP.  Jobs run one at a time;
``GET /jobs/{id}`` reports status and progress.  Starting jobs is an admin action (bearer token).
"""

from __future__ import annotations

import dataclasses
import logging
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field

from hfmrs.embedding import Encoder
from hfmrs.settings import Settings, get_settings
from services.clients import EmbedderClient
from services.common import ADMIN_ERRORS, admin_guard, install_error_handlers, install_limits
from services.jobs import JobRunner

log = logging.getLogger(__name__)


class JobKind(StrEnum):
    build = "build"
    ingest = "ingest"
    refresh = "refresh"


class JobRequest(BaseModel):
    kind: JobKind = JobKind.build
    force: bool = Field(False, description="build: rebuild even when the inputs are unchanged.")
    train: bool = Field(True, description="build/refresh: also train k-means clusters and GNN vectors.")
    limit: int = Field(10_000, ge=1, le=2_000_000, description="ingest/refresh: models to crawl.")
    sort: str = Field("downloads", max_length=50, description="ingest/refresh: Hub sort key.")
    per_task: int | None = Field(None, ge=1, le=100_000, description="ingest/refresh: top N per pipeline tag too.")


def create_app(settings: Settings | None = None, encoder: Encoder | None = None) -> FastAPI:
    """``encoder`` defaults to the embedder service at HFMRS_EMBEDDER_URL (tests inject one)."""
    settings = settings or get_settings()
    app = FastAPI(title="HFMRS ingest", version="1.0", description="Snapshots and Hub crawls into Qdrant, as jobs.")
    install_error_handlers(app)
    install_limits(app, 64_000)  # job requests are a few fields
    jobs = JobRunner()
    app.state.jobs = jobs

    def remote_encoder() -> Encoder:
        if encoder is not None:
            return encoder
        url = settings.embedder_url or f"http://{settings.host}:{settings.embedder_port}"
        return EmbedderClient(httpx.Client(base_url=url, timeout=120.0))

    def run_build(request: JobRequest, progress: Any) -> dict[str, Any]:
        from hfmrs.pipeline import build

        progress(stage="build")
        result = build(
            settings,
            encoder=remote_encoder(),
            force=request.force,
            trainer=_trainer(settings) if request.train else None,
            show_progress=False,
        )
        return {
            "build_id": result.build_id,
            "skipped": result.skipped,
            "models": result.models,
            "embedded": result.embedded,
            "timings": result.timings,
        }

    def run_ingest(request: JobRequest, progress: Any) -> dict[str, Any]:
        from hfmrs.hub.crawl import crawl

        result = crawl(
            settings, limit=request.limit, sort=request.sort, per_task=request.per_task, progress=_report(progress)
        )
        return _jsonable(result)

    def run_refresh(request: JobRequest, progress: Any) -> dict[str, Any]:
        from hfmrs.hub.refresh import refresh

        result = refresh(
            settings,
            encoder=remote_encoder(),
            limit=request.limit,
            sort=request.sort,
            per_task=request.per_task,
            progress=_report(progress),
            trainer=_trainer(settings) if request.train else None,
        )
        return _jsonable(result)

    runners = {JobKind.build: run_build, JobKind.ingest: run_ingest, JobKind.refresh: run_refresh}

    @app.post("/jobs", status_code=202, dependencies=[admin_guard(settings)], responses=ADMIN_ERRORS)
    def start(request: JobRequest) -> dict[str, Any]:
        return jobs.submit(request.kind.value, lambda progress: runners[request.kind](request, progress)).to_dict()

    @app.get("/jobs/{job_id}")
    def status(job_id: str) -> dict[str, Any]:
        return jobs.get(job_id).to_dict()

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    return app


def _report(progress: Any) -> Any:
    """Crawl progress objects -> the job's progress fields."""
    return lambda update: progress(**_jsonable(update))


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _trainer(settings: Settings) -> Any:
    """The training step (k-means, GNN) when the training package is installed with this build."""
    try:
        from hfmrs.training import make_trainer
    except ImportError:
        return None
    return make_trainer(settings, show_progress=False)
