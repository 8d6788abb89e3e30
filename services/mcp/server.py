"""HFMRS as a tool for AI assistants: a Model Context Protocol server (the official ``mcp`` SDK).

Four tools wrap what the public API does, through the same :class:`~hfmrs.engine.Engine` calls (no second
implementation): ``similar_models``, ``search_models``, ``model_info`` and ``list_methods``.  Each answers
with compact structured content (the API's fields) and a short text an assistant can quote (Hub links,
the ``why``).  Errors are tool errors an assistant can act on: an unknown id carries the "did you mean"
list, a bad argument names the field and its range.

Two transports: stdio (``hfmrs mcp``, for desktop assistants; a :class:`LocalBackend` opens the build and
the query encoder in-process) and streamable HTTP mounted on the recommender at ``/mcp`` when
``HFMRS_MCP=1`` (a :class:`LiveBackend` over its live engine and embedder client).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, Literal, Protocol

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent

from hfmrs.engine import K_MAX, K_MIN, Engine, Similar
from hfmrs.explain import human_count
from hfmrs.filters import Filters, public_fields
from hfmrs.ids import UnknownModelError

HUB = "https://huggingface.co"
SERVER_INSTRUCTIONS = (
    "HFMRS recommends Hugging Face Hub models. similar_models: models like a given model, as its family "
    "(base, fine-tunes, sizes, copies) and alternatives (other models for the same job). search_models: "
    "models that fit a need described in words. model_info: one model's record. Ids are Hub ids "
    "(org/name) or legacy ids (gpt2)."
)
FILTERS_HELP = "Optional filters, name -> value: " + "; ".join(f"{f.name}: {f.help}" for f in public_fields())


class Backend(Protocol):
    """Where the tools get an engine and query vectors."""

    def engine(self) -> contextlib.AbstractContextManager[Engine]: ...

    def embed(self, text: str) -> list[float]: ...


class LocalBackend:
    """An engine over the local build and the query encoder, opened once (stdio, ``hfmrs mcp``)."""

    def __init__(self, engine: Engine, encoder: Any):
        self._engine, self._encoder = engine, encoder

    @contextlib.contextmanager
    def engine(self) -> Iterator[Engine]:
        yield self._engine

    def embed(self, text: str) -> list[float]:
        wanted = self._engine.manifest.get("encoder")
        if wanted and self._encoder.name != wanted:  # vectors of another encoder would search nonsense
            raise ToolError(f"the query encoder is {self._encoder.name!r} but the build was made with {wanted!r}")
        return self._encoder.encode([text])[0].tolist()


class LiveBackend:
    """The recommender's live engine and its embedder client (``/mcp`` on the recommender)."""

    def __init__(self, live: Any, embedder: Any):
        self.live, self.embedder = live, embedder

    def engine(self) -> contextlib.AbstractContextManager[Engine]:
        return self.live.acquire()

    def embed(self, text: str) -> list[float]:
        return self.embedder.embed([text])[0]


def _filters(values: dict[str, Any] | None) -> Filters:
    try:
        return Filters(**(values or {}))
    except (TypeError, ValueError) as error:
        raise ToolError(f"bad filter: {error}") from None


@contextlib.contextmanager
def tool_errors(model_id: str) -> Iterator[None]:
    """The engine's refusals as tool errors an assistant can act on (did-you-mean, the field's range)."""
    try:
        yield
    except UnknownModelError as error:
        raise ToolError(f"unknown model id {model_id!r}; did you mean: {', '.join(error.suggestions)}") from None
    except ValueError as error:
        raise ToolError(str(error)) from None


def _check_k(k: int) -> None:
    if not K_MIN <= k <= K_MAX:
        raise ToolError(f"k must be from {K_MIN} to {K_MAX}, got {k}")


def render(result: Similar, title: str) -> CallToolResult:
    """The list as structured content and as a short Markdown text with Hub links and the why."""
    lines = [title]
    for i, r in enumerate(result.results, 1):
        facts = [r.relation, r.pipeline_tag, f"{human_count(r.downloads)} downloads"]
        copies = f" (+{len(r.variants)} copies)" if r.variants else ""
        lines.append(f"{i}. [{r.id}]({HUB}/{r.id}){copies} — {', '.join(f for f in facts if f)}")
        if r.why:
            lines.append(f"   why: {'; '.join(r.why[:3])}")
    lines += [f"note: {note}" for note in result.notes]
    if not result.results:
        lines.append("no model matches these filters")
    return CallToolResult(content=[TextContent(type="text", text="\n".join(lines))], structured_content=asdict(result))


def make_server(backend: Backend) -> MCPServer:
    server = MCPServer("hfmrs", instructions=SERVER_INSTRUCTIONS)

    @server.tool(
        description="Models similar to a Hugging Face model, best first. relation: 'family' (its lineage: base, "
        "fine-tunes, size variants, quantized copies), 'alternatives' (other models for the same job), or "
        f"'all'. k: {K_MIN}-{K_MAX}. Copies are grouped under their original (its `variants`). " + FILTERS_HELP
    )
    def similar_models(
        model_id: str,
        k: int = 10,
        relation: Literal["all", "family", "alternatives"] = "all",
        method: str | None = None,
        filters: dict[str, Any] | None = None,
    ) -> CallToolResult:
        _check_k(k)
        with backend.engine() as engine, tool_errors(model_id):
            result = engine.similar(model_id, k=k, method=method, relation=relation, filters=_filters(filters))
        return render(result, f"Models similar to {result.query} ({result.method}, {relation}):")

    @server.tool(
        description="Models that fit a need described in words, e.g. 'German speech recognition under 1B "
        "parameters'. Task, language, size, licence and format are read from the text (returned as "
        f"`understood`); explicit filters win. k: {K_MIN}-{K_MAX}. " + FILTERS_HELP
    )
    def search_models(need: str, k: int = 10, filters: dict[str, Any] | None = None) -> CallToolResult:
        _check_k(k)
        if not need.strip():
            raise ToolError("need is blank: describe the model you need")
        chosen = _filters(filters)
        with backend.engine() as engine, tool_errors(need):
            result = engine.search(need, backend.embed(need), k=k, filters=chosen)
        understood = ", ".join(f"{key}={value}" for key, value in result.understood.items()) or "nothing"
        return render(result, f"Models for {need!r} (understood: {understood}):")

    @server.tool(description="Everything the catalog knows about a model: task, library, size, licence, lineage.")
    def model_info(model_id: str) -> dict[str, Any]:
        with backend.engine() as engine, tool_errors(model_id):
            payload = engine.info(model_id)
        return {k: v for k, v in payload.items() if k not in ("tokens", "soup")}

    @server.tool(description="The recommendation methods of similar_models, with the default.")
    def list_methods() -> list[dict[str, Any]]:
        with backend.engine() as engine:
            return [asdict(m) for m in engine.method_infos()]

    return server
