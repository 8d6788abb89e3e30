"""HFMRS as a tool for AI assistants: a Model Context Protocol server (the official ``mcp`` SDK).

Four tools wrap what the public API does, never a second implementation: ``similar_models``,
``search_models``, ``model_info`` and ``list_methods``.  Each answers with compact structured content
(the API's JSON) and a short text an assistant can quote (Hub links, the ``why``).  Errors are tool errors
an assistant can act on: an unknown id carries the "did you mean" list, a bad argument names the field
and its range.

Where the answers come from (a :class:`Backend`):

- :class:`EngineBackend`: the :class:`~hfmrs.engine.Engine` calls the API's routes make, in-process:
  mounted on the recommender at ``/mcp`` (``HFMRS_MCP=1``, its live engine and embedder), or for
  ``hfmrs mcp`` (stdio) over the local build;
- :class:`ApiBackend`: the running API over HTTP, for ``hfmrs mcp`` when the services already hold the
  build (Qdrant Edge lets one process open it), so an assistant works beside ``make run``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, Literal, Protocol

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent

from hfmrs.engine import K_MAX, K_MIN, Engine
from hfmrs.explain import human_count
from hfmrs.filters import Filters, public_fields
from hfmrs.ids import UnknownModelError
from hfmrs.remote import model_path
from services.clients import ApiCallError, RecommenderClient, ServiceUnavailableError

HUB = "https://huggingface.co"
SERVER_INSTRUCTIONS = (
    "HFMRS recommends Hugging Face Hub models. similar_models: models like a given model, as its family "
    "(base, fine-tunes, sizes, copies) and alternatives (other models for the same job). search_models: "
    "models that fit a need described in words. model_info: one model's record. Ids are Hub ids "
    "(org/name) or legacy ids (gpt2)."
)
FILTERS_HELP = "Optional filters, name -> value: " + "; ".join(f"{f.name}: {f.help}" for f in public_fields())
Relation = Literal["all", "family", "alternatives"]


class Backend(Protocol):
    """The API's answers as JSON-shaped dicts; refusals raised as :class:`ToolError`."""

    def similar(self, model_id: str, k: int, relation: str, method: str | None, filters: Filters) -> dict[str, Any]: ...

    def search(self, need: str, k: int, filters: Filters) -> dict[str, Any]: ...

    def info(self, model_id: str) -> dict[str, Any]: ...

    def methods(self) -> list[dict[str, Any]]: ...


@contextlib.contextmanager
def tool_errors(model_id: str) -> Iterator[None]:
    """The engine's refusals as tool errors an assistant can act on (did-you-mean, the field's range)."""
    try:
        yield
    except UnknownModelError as error:
        raise ToolError(f"unknown model id {model_id!r}; did you mean: {', '.join(error.suggestions)}") from None
    except ValueError as error:
        raise ToolError(str(error)) from None


class EngineBackend:
    """The engine, in-process: ``engine()`` lends it (the live engine's ``acquire``, or one opened
    engine), ``embed`` turns a need into its query vector (the embedder, or the local query encoder)."""

    def __init__(self, engine: Callable[[], contextlib.AbstractContextManager[Engine]], embed: Callable[[str], Any]):
        self.engine, self.embed = engine, embed

    @classmethod
    def local(cls, engine: Engine, encoder: Callable[[], Any]) -> EngineBackend:
        """One opened engine and a query encoder loaded on the first search (``encoder()`` makes it)."""
        loaded: list[Any] = []

        def embed(text: str) -> list[float]:
            if not loaded:
                loaded.append(encoder())
            wanted = engine.manifest.get("encoder")
            if wanted and loaded[0].name != wanted:  # vectors of another encoder would search nonsense
                raise ToolError(f"the query encoder is {loaded[0].name!r} but the build was made with {wanted!r}")
            return loaded[0].encode([text])[0].tolist()

        return cls(lambda: contextlib.nullcontext(engine), embed)

    def similar(self, model_id: str, k: int, relation: str, method: str | None, filters: Filters) -> dict[str, Any]:
        with self.engine() as engine, tool_errors(model_id):
            return asdict(engine.similar(model_id, k=k, method=method, relation=relation, filters=filters))

    def search(self, need: str, k: int, filters: Filters) -> dict[str, Any]:
        with self.engine() as engine, tool_errors(need):
            return asdict(engine.search(need, self.embed(need), k=k, filters=filters))

    def info(self, model_id: str) -> dict[str, Any]:
        with self.engine() as engine, tool_errors(model_id):
            return engine.info(model_id)

    def methods(self) -> list[dict[str, Any]]:
        with self.engine() as engine:
            return [asdict(m) for m in engine.method_infos()]


class ApiBackend:
    """The running recommender's public API, over HTTP."""

    def __init__(self, client: RecommenderClient):
        self.client = client

    def _get(self, path: str, **params: Any) -> Any:
        try:
            return self.client.get(path, **{k: v for k, v in params.items() if v is not None})
        except ApiCallError as error:
            hint = f"; did you mean: {', '.join(error.suggestions)}" if error.suggestions else ""
            raise ToolError(error.message + hint) from None
        except ServiceUnavailableError as error:
            raise ToolError(str(error)) from None

    def similar(self, model_id: str, k: int, relation: str, method: str | None, filters: Filters) -> dict[str, Any]:
        path = model_path(model_id, "/similar")
        return self._get(path, k=k, relation=relation, method=method, **filters.values)

    def search(self, need: str, k: int, filters: Filters) -> dict[str, Any]:
        return self._get("/v1/search", q=need, k=k, **filters.values)

    def info(self, model_id: str) -> dict[str, Any]:
        return self._get(model_path(model_id))

    def methods(self) -> list[dict[str, Any]]:
        return self._get("/v1/methods")


def _filters(values: dict[str, Any] | None) -> Filters:
    try:
        return Filters(**(values or {}))
    except (TypeError, ValueError) as error:
        raise ToolError(f"bad filter: {error}") from None


def _check_k(k: int) -> None:
    if not K_MIN <= k <= K_MAX:
        raise ToolError(f"k must be from {K_MIN} to {K_MAX}, got {k}")


def render(result: dict[str, Any], title: str) -> CallToolResult:
    """The list as structured content and as a short Markdown text with Hub links and the why."""
    lines = [title]
    for i, r in enumerate(result["results"], 1):
        facts = [r.get("relation"), r.get("pipeline_tag"), f"{human_count(r.get('downloads') or 0)} downloads"]
        copies = f" (+{len(r['variants'])} copies)" if r.get("variants") else ""
        lines.append(f"{i}. [{r['id']}]({HUB}/{r['id']}){copies} — {', '.join(f for f in facts if f)}")
        if r.get("why"):
            lines.append(f"   why: {'; '.join(r['why'][:3])}")
    lines += [f"note: {note}" for note in result.get("notes") or []]
    if not result["results"]:
        lines.append("no model matches these filters")
    return CallToolResult(content=[TextContent(type="text", text="\n".join(lines))], structured_content=result)


def make_server(backend: Backend) -> MCPServer:
    server = MCPServer("hfmrs", instructions=SERVER_INSTRUCTIONS)

    @server.tool(
        description="Models similar to a Hugging Face model, best first. relation: 'family' (its lineage: base, "
        "fine-tunes, size variants, quantized copies), 'alternatives' (other models for the same job), or "
        f"'all'. k: {K_MIN}-{K_MAX}. Copies are grouped under their original (its `variants`). " + FILTERS_HELP
    )
    def similar_models(
        model_id: str, k: int = 10, relation: Relation = "all", method: str | None = None, filters: dict | None = None
    ) -> CallToolResult:
        _check_k(k)
        result = backend.similar(model_id, k, relation, method, _filters(filters))
        return render(result, f"Models similar to {result['query']} ({result['method']}, {relation}):")

    @server.tool(
        description="Models that fit a need described in words, e.g. 'German speech recognition under 1B "
        "parameters'. Task, language, size, licence and format are read from the text (returned as "
        f"`understood`); explicit filters win. k: {K_MIN}-{K_MAX}. " + FILTERS_HELP
    )
    def search_models(need: str, k: int = 10, filters: dict | None = None) -> CallToolResult:
        _check_k(k)
        if not need.strip():
            raise ToolError("need is blank: describe the model you need")
        result = backend.search(need, k, _filters(filters))
        understood = ", ".join(f"{key}={value}" for key, value in result.get("understood", {}).items()) or "nothing"
        return render(result, f"Models for {need!r} (understood: {understood}):")

    @server.tool(description="Everything the catalog knows about a model: task, library, size, licence, lineage.")
    def model_info(model_id: str) -> dict[str, Any]:
        return {k: v for k, v in backend.info(model_id).items() if k not in ("tokens", "soup")}

    @server.tool(description="The recommendation methods of similar_models, with the default.")
    def list_methods() -> list[dict[str, Any]]:
        return backend.methods()

    return server
