"""Answers to ``similar`` requests already made, kept per build: the hot path.

The extension asks for the same popular models over and over (page views follow downloads), and within one
build an answer depends on nothing but the request: ties are broken the same way at every k, no field
carries a time.  So the recommender keeps the JSON bytes of each ``200`` answer to
``GET /v1/models/{id}/similar`` under (build id, path, query string) and replays them: no parameter
parsing, no search, no ranking, no serialisation.  Entries of an older build are never served (the build
id is part of the key) and are dropped at the switch; errors are never kept (unknown ids have their own
budget, :mod:`services.common`).  Memory is bounded (``HFMRS_RESPONSE_CACHE_MB``, least recently used
dropped first).  Each worker process keeps its own.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from services.recommender.live import LiveEngine

PREFIX, SUFFIX = "/v1/models/", "/similar"
HEADER = b"x-hfmrs-cache"  # hit or miss, as CDNs' X-Cache: for operators and tests
ENTRY_OVERHEAD = 200  # bytes of key, headers and bookkeeping per entry, roughly


class ResponseCache:
    """ASGI middleware, innermost: it sees the route's own response (errors already shaped)."""

    def __init__(self, app: Any, live: LiveEngine, max_bytes: int):
        self.app, self.live, self.max_bytes = app, live, max_bytes
        self.entries: OrderedDict[tuple[str, str, bytes], tuple[list[Any], bytes]] = OrderedDict()
        self.size = 0
        self.build_id: str | None = None
        self.hits = self.misses = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not (path.startswith(PREFIX) and path.endswith(SUFFIX))
        ):
            await self.app(scope, receive, send)
            return
        build_id = self.live.build_id
        if build_id != self.build_id:  # a new build: every answer may have changed
            self.entries.clear()
            self.size, self.build_id = 0, build_id
        key = (build_id or "", path, scope.get("query_string", b""))
        if build_id is not None and (entry := self.entries.get(key)) is not None:
            self.entries.move_to_end(key)
            self.hits += 1
            headers, body = entry
            await send({"type": "http.response.start", "status": 200, "headers": [*headers, (HEADER, b"hit")]})
            await send({"type": "http.response.body", "body": body})
            return
        self.misses += 1
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                message = {**message, "headers": [*message.get("headers", []), (HEADER, b"miss")]}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and start.get("status") == 200 and self.live.build_id == build_id:
                    self._store(key, list(start.get("headers", [])), b"".join(chunks))
            await send(message)

        await self.app(scope, receive, keep)

    def _store(self, key: tuple[str, str, bytes], headers: list[Any], body: bytes) -> None:
        cost = _cost(key, body)
        if key[0] == "" or key in self.entries or cost > self.max_bytes // 8:  # one answer must not crowd out the rest
            return
        self.entries[key] = (headers, body)
        self.size += cost
        while self.size > self.max_bytes:
            old_key, (_, old_body) = self.entries.popitem(last=False)
            self.size -= _cost(old_key, old_body)


def _cost(key: tuple[str, str, bytes], body: bytes) -> int:
    """What an entry is counted as: its body, its path and query, and the rest, roughly."""
    return len(body) + len(key[1]) + len(key[2]) + ENTRY_OVERHEAD


def install_response_cache(app: Any, live: LiveEngine, max_mb: int) -> None:
    """Add it first, so that it is the innermost middleware (Starlette wraps later ones around it)."""
    if max_mb > 0:
        app.add_middleware(ResponseCache, live=live, max_bytes=max_mb * 1_000_000)
