"""The embedder service: texts -> vectors, and a job that fills stale `text` vectors in a build.

Stateless apart from the model it loads (on GPU when present), so several replicas can share one
Qdrant server.  The encoder is loaded lazily on first use so the service starts instantly.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import FastAPI
from pydantic import BaseModel, Field, StringConstraints

from hfmrs.embedding import Encoder, query_encoder
from hfmrs.settings import Settings, get_settings
from hfmrs.store.builds import open_builds
from services.common import ADMIN_ERRORS, ApiError, ErrorResponse, admin_guard, install_error_handlers, install_limits
from services.jobs import JobRunner

log = logging.getLogger(__name__)

MAX_TEXTS = 256
MAX_TEXT_LENGTH = 1000
# Characters per request: MiniLM's CPU time grows with them (256 texts of 1,000 characters took 10-15 s of
# CPU); a search embeds one short text, a stale-vector job embeds in-process.
MAX_BATCH_CHARS = 64_000
MAX_BODY_BYTES = 2_000_000  # the largest valid request, with room for JSON escapes


class EmbedRequest(BaseModel):
    texts: list[Annotated[str, StringConstraints(max_length=MAX_TEXT_LENGTH)]] = Field(
        min_length=1, max_length=MAX_TEXTS
    )


class EmbedResponse(BaseModel):
    encoder: str
    dim: int
    vectors: list[list[float]]


class StaleJobRequest(BaseModel):
    build_id: str | None = Field(None, description="Build to scan; default: the serving build.")


def create_app(settings: Settings | None = None, encoder: Encoder | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="HFMRS embedder", version="1.0", description="Texts to vectors with the build's encoder.")
    install_error_handlers(app)
    install_limits(app, MAX_BODY_BYTES)
    state: dict[str, Encoder] = {}
    lock = threading.Lock()
    jobs = JobRunner()

    def get_encoder() -> Encoder:
        with lock:
            if "encoder" not in state:
                state["encoder"] = encoder or query_encoder(settings)
            return state["encoder"]

    @app.post(
        "/embed",
        response_model=EmbedResponse,
        responses={
            413: {"model": ErrorResponse, "description": f"Over {MAX_BATCH_CHARS:,} characters, or a body too large."},
            422: {"model": ErrorResponse, "description": "Invalid texts (none, too many, too long)."},
        },
    )
    def embed(request: EmbedRequest) -> dict[str, Any]:
        total = sum(map(len, request.texts))
        if total > MAX_BATCH_CHARS:
            message = f"at most {MAX_BATCH_CHARS:,} characters per request, got {total:,}; send smaller batches"
            raise ApiError(413, "payload_too_large", message)
        enc = get_encoder()
        vectors = enc.encode(request.texts)
        return {"encoder": enc.name, "dim": enc.dim, "vectors": vectors.tolist()}

    @app.get("/health")
    def health() -> dict[str, Any]:
        enc = get_encoder()
        device = getattr(enc, "device", "cpu")
        return {"status": "ok", "encoder": enc.name, "dim": enc.dim, "device": device}

    @app.post("/jobs", status_code=202, dependencies=[admin_guard(settings)], responses=ADMIN_ERRORS)
    def start_job(request: StaleJobRequest) -> dict[str, Any]:
        from hfmrs.embed_job import embed_stale

        builds = open_builds(settings)
        build_id = request.build_id or builds.current_id()
        if build_id is None or build_id not in builds.completed():
            raise ApiError(404, "unknown_build", f"no completed build {build_id!r}")

        def run(progress: Any) -> dict[str, Any]:
            store = builds.open(build_id)
            try:
                return {"build_id": build_id, "embedded": embed_stale(store, get_encoder(), progress)}
            finally:
                store.close()

        return jobs.submit("embed-stale", run).to_dict()

    @app.get("/jobs/{job_id}")
    def job_status(job_id: str) -> dict[str, Any]:
        return jobs.get(job_id).to_dict()

    return app
