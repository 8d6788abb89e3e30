"""The serving build through its running API, for a second process such as the CLI beside ``make run``.

Qdrant Edge lets one process open a build (its write-ahead log is locked), and the running services hold
it.  A command in a second terminal then answers through the recommender's HTTP API instead: the same
engine answers, so the results are the ones the services give.  The API's error answers come back as the
engine's own exceptions (``UnknownModelError`` with its suggestions, ``ValueError`` with the message), so
the CLI handles both paths the same way.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from urllib.parse import quote

import httpx

from hfmrs.engine import MethodInfo, Recommendation, SearchResult, Similar
from hfmrs.filters import Filters
from hfmrs.ids import UnknownModelError
from hfmrs.settings import Settings

RESULT_FIELDS = {f.name for f in fields(Recommendation)}


class ApiUnavailableError(RuntimeError):
    """The API does not answer, or answers with a server error."""


def recommender_url(settings: Settings) -> str:
    return (settings.recommender_url or f"http://{settings.host}:{settings.recommender_port}").rstrip("/")


def model_path(model_id: str, suffix: str = "") -> str:
    """``/v1/models/<id><suffix>``, each id segment percent-encoded ('.' and '..' too)."""
    parts = [quote(p, safe="") if p not in (".", "..") else p.replace(".", "%2E") for p in model_id.split("/")]
    return f"/v1/models/{'/'.join(parts)}{suffix}"


def filter_params(filters: Filters | None) -> dict[str, Any]:
    """Filters as the API's query parameters (the public filter names are the parameter names)."""
    params: dict[str, Any] = {}
    for name, value in (filters.values if filters is not None else {}).items():
        params[name] = ",".join(map(str, value)) if isinstance(value, (tuple, list)) else value
    return params


class RemoteEngine:
    """The part of :class:`~hfmrs.engine.Engine` the CLI uses, answered by the recommender API at ``url``."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteEngine:
        return cls(recommender_url(settings))

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, model_id: str = "", **params: Any) -> Any:
        query = {k: ("true" if v is True else "false" if v is False else v) for k, v in params.items() if v is not None}
        try:
            response = self.client.get(path, params=query)
        except httpx.HTTPError as error:
            problem = f"the recommender API at {self.url} does not answer ({type(error).__name__})"
            raise ApiUnavailableError(problem) from error
        if response.status_code == 200:
            return response.json()
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"message": response.text[:200]}
        if error.get("code") == "unknown_model":
            raise UnknownModelError(model_id, list(error.get("suggestions") or []))
        if 400 <= response.status_code < 500:
            raise ValueError(error.get("message") or f"the API refused the request (HTTP {response.status_code})")
        raise ApiUnavailableError(f"the recommender API at {self.url} answered {response.status_code}: {error}")

    @staticmethod
    def _results(rows: list[dict[str, Any]]) -> list[Recommendation]:
        return [Recommendation(**{k: v for k, v in row.items() if k in RESULT_FIELDS}) for row in rows]

    def similar(
        self,
        model_id: str,
        k: int = 10,
        method: str | None = None,
        sort: str = "score",
        filters: Filters | None = None,
        diversity: float | None = None,
        per_author: int | None = None,
        relation: str = "all",
        collapse: bool = True,
    ) -> Similar:
        body = self._get(
            model_path(model_id, "/similar"),
            model_id,
            k=k,
            method=method,
            sort=sort,
            diversity=diversity,
            per_author=per_author,
            relation=relation,
            collapse=collapse,
            **filter_params(filters),
        )
        results = self._results(body["results"])
        return Similar(body["query"], body["method"], results, body.get("unknown_size"), body.get("notes") or [])

    def search_text(
        self,
        text: str,
        k: int = 10,
        method: str | None = None,
        sort: str = "score",
        filters: Filters | None = None,
        understand: bool = True,
        ignore: tuple[str, ...] | list[str] = (),
    ) -> SearchResult:
        """GET /v1/search: the API embeds the text itself."""
        params = {"q": text, "k": k, "method": method, "sort": sort, "understand": understand, **filter_params(filters)}
        if ignore:
            params["ignore"] = list(ignore)
        body = self._get("/v1/search", **params)
        return SearchResult(
            body["query"],
            body["method"],
            self._results(body["results"]),
            body.get("unknown_size"),
            body.get("notes") or [],
            body.get("understood") or {},
        )

    def info(self, model_id: str) -> dict[str, Any]:
        return self._get(model_path(model_id), model_id)

    def method_infos(self) -> list[MethodInfo]:
        return [
            MethodInfo(m["name"], m.get("description", ""), bool(m.get("default"))) for m in self._get("/v1/methods")
        ]
