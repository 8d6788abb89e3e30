"""What every HFMRS service shares: one JSON error shape, CORS, admin-token checks, health basics.

Every error any service returns is ``{"error": {"code", "message", "suggestions"?}}``; a test pins it.
"""

from __future__ import annotations

import gc
import hmac
import logging
import math
import threading
import time
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from hfmrs.ids import UnknownModelError
from hfmrs.settings import Settings
from hfmrs.store.builds import NoBuildError, StoreUnavailableError
from services.clients import ServiceUnavailableError
from services.jobs import JobConflictError, UnknownJobError

log = logging.getLogger(__name__)

# The extension's content script runs on huggingface.co; the UI and local tools on localhost.
CORS_ORIGINS = ["https://huggingface.co"]
CORS_ORIGIN_REGEX = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


# A request allocates a few thousand short-lived objects (hit payloads, feature rows).  At CPython's
# default gen-0 threshold (700) that runs a collection every request or two, and now and then a full one
# over everything the process holds (the id index, cached candidate lists): 20-80 ms pauses, the whole
# p99 of `similar`.  The remedy of large Python services (Instagram's gc.freeze, Dropbox's thresholds):
# freeze what start-up built out of every collection, and collect the young generation less often.
SERVING_GC_THRESHOLDS = (50_000, 20, 100)


def settle_heap() -> None:
    """Once start-up is done (the engine open): keep its objects out of garbage collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)


class ApiError(Exception):
    """An error any route raises to answer with the shared error shape (clients see ``ApiCallError``)."""

    def __init__(self, status: int, code: str, message: str, suggestions: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.suggestions = status, code, message, suggestions


class ErrorBody(BaseModel):
    code: str
    message: str
    suggestions: list[str] | None = None


class ErrorResponse(BaseModel):
    """The one error shape of every service: ``{"error": {"code", "message", "suggestions"?}}``."""

    error: ErrorBody


def error_response(status: int, code: str, message: str, suggestions: list[str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, suggestions=suggestions))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status)


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(x) for x in item.get("loc", ()) if x not in ("query", "path", "body"))
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.suggestions)

    @app.exception_handler(UnknownModelError)
    async def _unknown(request: Request, exc: UnknownModelError) -> JSONResponse:
        message = f"unknown model id {exc.model_id!r}"
        budget: ClientBudget | None = getattr(request.app.state, "suggest_budget", None)
        if budget is not None and budget.wait(client_address(request)) > 0:
            # The fuzzy search is most of a miss's cost: a client sending many unknown ids goes without it.
            return error_response(404, "unknown_model", message + " (no suggestions: too many unknown ids from "
                                  "this client; try again in a minute)")  # fmt: skip
        return error_response(404, "unknown_model", message, exc.suggestions)

    @app.exception_handler(ValueError)
    async def _bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return error_response(422, "invalid_parameter", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_parameter", _validation_message(exc))

    @app.exception_handler(ServiceUnavailableError)
    async def _dependency(_: Request, exc: ServiceUnavailableError) -> JSONResponse:
        return error_response(503, "dependency_unavailable", str(exc))

    @app.exception_handler(NoBuildError)
    async def _no_build(_: Request, exc: NoBuildError) -> JSONResponse:
        return error_response(503, "not_ready", str(exc))

    @app.exception_handler(StoreUnavailableError)
    async def _store(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        return error_response(503, "store_unavailable", str(exc))

    @app.exception_handler(UnknownJobError)
    async def _unknown_job(_: Request, exc: UnknownJobError) -> JSONResponse:
        return error_response(404, "unknown_job", f"no job {exc.args[0]!r}")

    @app.exception_handler(JobConflictError)
    async def _job_running(_: Request, exc: JobConflictError) -> JSONResponse:
        return error_response(409, "job_running", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # a 405's Allow: the methods the path does take
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:  # the last line of defence
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; see the service log")


def install_cors(app: FastAPI) -> None:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=CORS_ORIGINS,
        allow_origin_regex=CORS_ORIGIN_REGEX,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )


# What admin routes may answer, for their OpenAPI entry (admin_guard).
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong 'Authorization: Bearer <HFMRS_ADMIN_TOKEN>'."},
    404: {"model": ErrorResponse, "description": "Admin endpoints are off (HFMRS_ADMIN_TOKEN unset)."},
}


def admin_guard(settings: Settings):
    """Admin endpoints: off (404) without HFMRS_ADMIN_TOKEN, 401 without the right bearer token."""

    def check(authorization: Annotated[str | None, Header()] = None) -> None:
        if not settings.admin_token:
            raise ApiError(404, "not_found", "admin endpoints are off (set HFMRS_ADMIN_TOKEN to enable them)")
        expected = f"Bearer {settings.admin_token}"
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
            raise ApiError(401, "unauthorized", "admin endpoints need 'Authorization: Bearer <HFMRS_ADMIN_TOKEN>'")

    return Depends(check)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


class ClientBudget:
    """A token bucket per client address: ``rate`` tokens a second, at most ``burst`` saved up.  Bounded:
    past ``max_clients`` addresses the least recently seen are forgotten (they start full again)."""

    def __init__(self, rate: float, burst: float, max_clients: int = 10_000):
        self.rate, self.burst, self.max_clients = rate, max(burst, 1.0), max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, time)
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Take one token: 0 when there was one, else the seconds until there will be (nothing taken)."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / self.rate


def install_budgets(app: FastAPI, settings: Settings, limited: tuple[str, ...] = ("/v1/", "/recommend")) -> None:
    """The public API's per-client limits: ``HFMRS_RATE_LIMIT`` requests a second on ``limited`` paths
    (429 with Retry-After beyond it; off at 0) and ``HFMRS_SUGGEST_PER_MINUTE`` "did you mean" searches."""
    if settings.suggest_per_minute:
        per_minute = settings.suggest_per_minute
        app.state.suggest_budget = ClientBudget(per_minute / 60.0, per_minute)
    if not settings.rate_limit:
        return
    requests = ClientBudget(settings.rate_limit, 2 * settings.rate_limit)

    @app.middleware("http")
    async def rate_limit(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith(limited):
            wait = requests.wait(client_address(request))
            if wait > 0:
                response = error_response(429, "rate_limited", f"too many requests; retry in {wait:.1f} s")
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
        return await call_next(request)


class HeadAsGet:
    """ASGI middleware: ``HEAD`` on any ``GET`` route answers as ``GET`` would, headers only.  FastAPI
    routes take exactly the methods they declare, so ``HEAD /health`` (load balancers, uptime checks)
    was a 405."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return  # the body's last message closes the response, emptied
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is refused with 413 in the shared error shape,
    before it is read into memory (declared by Content-Length, or counted while it streams in)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
            # A chunked body says nothing of its size: read it here, up to the limit.  Refused inside the
            # app instead, it would be FastAPI's 400 "error parsing the body".
            body = await self._bounded_body(receive)
            if body is None:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, _replay(body, receive), send)
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLargeError
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLargeError:
            await self._refuse(scope, receive, send)

    async def _bounded_body(self, receive: Any) -> bytes | None:
        """The whole body, or None once it passes the limit (what is left of it is not read)."""
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # the client went away: the app will see an empty body
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                return None
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _refuse(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = f"{self.max_bytes:,} bytes"
        await error_response(413, "payload_too_large", f"the request body is over {limit}")(scope, receive, send)


def _replay(body: bytes, receive: Any) -> Any:
    """A receive that gives the body read ahead once, then the connection's own messages (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return replayed


class BodyTooLargeError(Exception):
    pass


def install_limits(app: FastAPI, max_body_bytes: int) -> None:
    """HEAD on GET routes, and the request body limit (the service's largest valid request, with room)."""
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(HeadAsGet)
