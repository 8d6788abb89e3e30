"""The ingest service: writes model payloads into Qdrant as jobs (build from snapshots; crawl the Hub).

A build job runs :func:`hfmrs.pipeline.build` with the embedder *service* as its encoder, so only the
soups missing from the vector cache travel to the embedder, over HTTP.  Jobs run one at a time;
``GET /jobs/{id}`` reports status and progress.  Starting jobs is an admin action (bearer token).
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field

from hfmrs.clients import EmbedderClient
from hfmrs.embedding import Encoder
from hfmrs.jobs import JobRunner
from hfmrs.settings import Settings, get_settings
from services.common import admin_guard, install_error_handlers

log = logging.getLogger(__name__)


class JobKind(StrEnum):
    build = "build"
    ingest = "ingest"
    refresh = "refresh"


class JobRequest(BaseModel):
    kind: JobKind = JobKind.build
    force: bool = Field(False, description="build: rebuild even when the inputs are unchanged.")
    limit: int = Field(10_000, ge=1, le=2_000_000, description="ingest/refresh: models to crawl.")
    sort: str = Field("downloads", max_length=50, description="ingest/refresh: Hub sort key.")
    per_task: int | None = Field(None, ge=1, le=100_000, description="ingest/refresh: top N per pipeline tag too.")


def create_app(settings: Settings | None = None, encoder: Encoder | None = None) -> FastAPI:
    """``encoder`` defaults to the embedder service at HFMRS_EMBEDDER_URL (tests inject one)."""
    settings = settings or get_settings()
    app = FastAPI(title="HFMRS ingest", version="1.0", description="Snapshots and Hub crawls into Qdrant, as jobs.")
    install_error_handlers(app)
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
            settings, encoder=remote_encoder(), force=request.force, trainer=_trainer(settings), show_progress=False
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

        result = crawl(settings, limit=request.limit, sort=request.sort, per_task=request.per_task, progress=progress)
        return result.to_dict() if hasattr(result, "to_dict") else dict(result.__dict__)

    def run_refresh(request: JobRequest, progress: Any) -> dict[str, Any]:
        from hfmrs.hub.refresh import refresh

        result = refresh(
            settings,
            encoder=remote_encoder(),
            limit=request.limit,
            sort=request.sort,
            per_task=request.per_task,
            progress=progress,
        )
        return result if isinstance(result, dict) else dict(result.__dict__)

    runners = {JobKind.build: run_build, JobKind.ingest: run_ingest, JobKind.refresh: run_refresh}

    @app.post("/jobs", status_code=202, dependencies=[admin_guard(settings)])
    def start(request: JobRequest) -> dict[str, Any]:
        return jobs.submit(request.kind.value, lambda progress: runners[request.kind](request, progress)).to_dict()

    @app.get("/jobs/{job_id}")
    def status(job_id: str) -> dict[str, Any]:
        return jobs.get(job_id).to_dict()

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    return app


def _trainer(settings: Settings) -> Any:
    """The training step (k-means, GNN) when the training package is installed with this build."""
    try:
        from hfmrs.training import make_trainer
    except ImportError:
        return None
    return make_trainer(settings, None)
