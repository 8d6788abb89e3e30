"""HTTP clients the services use to talk to each other (httpx).

The same code runs in one process (``hfmrs up``: services on loopback ports) and across containers
(real service URLs): only the base URL differs.  Tests pass a FastAPI ``TestClient`` (an
``httpx.Client``) instead, so service-to-service calls are exercised without sockets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import numpy as np

log = logging.getLogger(__name__)

EMBED_BATCH = 256  # texts per /embed request (the embedder's limit)


class ServiceUnavailableError(RuntimeError):
    """A service this one depends on cannot be reached or answered with a server error."""


class EmbedderClient:
    """Talks to the embedder service; also usable as an :class:`~hfmrs.embedding.Encoder` for builds."""

    def __init__(self, client: httpx.Client):
        self.client = client
        self._info: dict[str, Any] | None = None

    @classmethod
    def from_url(cls, url: str, timeout: float = 30.0) -> EmbedderClient:
        return cls(httpx.Client(base_url=url, timeout=timeout))

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(f"embedder service unreachable: {error.__class__.__name__}") from error
        if response.status_code >= 500:
            raise ServiceUnavailableError(f"embedder service failed with HTTP {response.status_code}")
        response.raise_for_status()
        return response.json()

    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self._call("GET", "/health")
        return self._info

    @property
    def name(self) -> str:
        return str(self.info()["encoder"])

    @property
    def dim(self) -> int:
        return int(self.info()["dim"])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._call("POST", "/embed", json={"texts": list(texts)})["vectors"]

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Encoder protocol: batches over HTTP, so a build can embed through the embedder service."""
        out = [
            np.asarray(self.embed(texts[i : i + EMBED_BATCH]), dtype=np.float32)
            for i in range(0, len(texts), EMBED_BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)


class RecommenderClient:
    """The UI's way to the public API: every call returns parsed JSON or raises with the API's message.

    ``end_user`` gives the address of the person a call is made for (the web UI's visitor), sent as
    ``X-Forwarded-For``: the API's per-client budgets ("did you mean", ``HFMRS_RATE_LIMIT``) then count
    each visitor, not the UI server as one client.  uvicorn trusts the header from FORWARDED_ALLOW_IPS
    (127.0.0.1 unless set), so this holds where the UI reaches the API over loopback (``hfmrs up``)."""

    def __init__(self, client: httpx.Client, end_user: Callable[[], str | None] | None = None):
        self.client = client
        self.end_user = end_user

    @classmethod
    def from_url(
        cls, url: str, timeout: float = 15.0, end_user: Callable[[], str | None] | None = None
    ) -> RecommenderClient:
        return cls(httpx.Client(base_url=url, timeout=timeout), end_user)

    def get(self, path: str, **params: Any) -> Any:
        params = {k: v for k, v in params.items() if v is not None and v != ""}
        user = self.end_user() if self.end_user else None
        try:
            response = self.client.get(path, params=params, headers={"X-Forwarded-For": user} if user else None)
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(f"the recommender API is unreachable ({error.__class__.__name__})") from error
        if response.status_code >= 400:
            raise ApiCallError.from_response(response)
        return response.json()


class ApiCallError(Exception):
    """An error answer of the public API, as a client sees it (the server's side: ``services.common.ApiError``)."""

    def __init__(self, status: int, code: str, message: str, suggestions: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.suggestions = suggestions or []

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiCallError:
        try:
            body = response.json()["error"]
            return cls(response.status_code, body.get("code", ""), body.get("message", ""), body.get("suggestions"))
        except (ValueError, KeyError, TypeError):
            if response.status_code >= 500:
                raise ServiceUnavailableError(f"the recommender API failed with HTTP {response.status_code}") from None
            return cls(response.status_code, "http_error", response.text[:200])
