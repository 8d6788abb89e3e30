"""The recommender service: HFMRS's public HTTP API (OpenAPI docs at /docs).

This module assembles the app: error handlers, CORS, the shared state (the live engine, the embedder
client) and the routers of ``routes/``.  Routes parse and validate input, call the engine and shape
JSON; no ranking happens here.  Free-text search asks the embedder service for the query vector.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from hfmrs.settings import Settings, get_settings
from hfmrs.store.builds import NoBuildError
from services.clients import EmbedderClient
from services.common import (
    ADMIN_ERRORS,
    admin_guard,
    install_budgets,
    install_cors,
    install_error_handlers,
    install_limits,
    settle_heap,
)
from services.recommender.cache import install_response_cache
from services.recommender.live import LiveEngine
from services.recommender.routes import catalog, models, ops
from services.recommender.schemas import ERRORS

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the served build before the first request (not during it), then settle the heap."""
    try:
        app.state.live.reload()
    except NoBuildError as error:
        log.warning("%s; serving 503 until a build completes", error)
    except Exception:  # e.g. a Qdrant server not up yet: requests retry the open and answer 503 meanwhile
        log.exception("could not open the served build at start-up")
    settle_heap()
    async with contextlib.AsyncExitStack() as stack:
        if (mcp := getattr(app.state, "mcp", None)) is not None:  # its streamable-HTTP sessions live here
            await stack.enter_async_context(mcp.session_manager.run())
        yield
    if app.state.owns_live:
        app.state.live.close()


def create_app(
    settings: Settings | None = None,
    live: LiveEngine | None = None,
    embedder: EmbedderClient | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    if embedder is None:
        url = settings.embedder_url or f"http://{settings.host}:{settings.embedder_port}"
        embedder = EmbedderClient(httpx.Client(base_url=url, timeout=10.0))
    app = FastAPI(
        title="HFMRS recommender",
        version="1.0",
        description="Similar Hugging Face models: by model id, by free text, with filters and explanations.",
        responses=ERRORS,
        lifespan=lifespan,
    )
    app.state.owns_live = live is None
    app.state.live = live = live or LiveEngine(settings)
    install_error_handlers(app)
    install_response_cache(app, live, settings.response_cache_mb)  # first: innermost, it keeps the routes' answers
    install_limits(app, 1_000_000)  # its POSTs (admin reload, MCP messages) are small
    install_budgets(app, settings)  # before CORS, so that CORS (outermost) also heads a 429
    install_cors(app)
    app.state.embedder = embedder
    app.state.settings = settings
    app.include_router(models.router)
    app.include_router(catalog.router)
    app.include_router(ops.router)
    app.include_router(ops.seed)
    app.add_api_route(
        "/admin/reload",
        ops.reload,
        methods=["POST"],
        tags=["ops"],
        summary="Switch to the newest build now",
        dependencies=[admin_guard(settings)],
        responses=ADMIN_ERRORS,
    )
    if settings.mcp:
        mount_mcp(app, settings)
    return app


def mount_mcp(app: FastAPI, settings: Settings) -> None:
    """The MCP tools over streamable HTTP at ``/mcp``, beside the API (its CORS and error handlers apply);
    they use this app's live engine and embedder."""
    from services.mcp.server import EngineBackend, make_server

    live, embedder = app.state.live, app.state.embedder
    server = make_server(EngineBackend(live.acquire, lambda text: embedder.embed([text])[0]))
    # Sessions live in one process: with several workers, a session's next request may reach another,
    # so each request stands alone (the tools keep no state between calls).
    stateless = settings.workers > 1
    mcp_app = server.streamable_http_app(streamable_http_path="/mcp", host=settings.host, stateless_http=stateless)
    app.router.routes.extend(mcp_app.routes)
    app.state.mcp = server
