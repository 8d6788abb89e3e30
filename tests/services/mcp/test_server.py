"""The MCP server, driven by the SDK's own client over both transports on the test catalog (offline):
list the tools, call each, an unknown id, a bad argument."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from mcp import Client, StdioServerParameters

from hfmrs.filters import Filters
from services.clients import EmbedderClient
from services.recommender.app import create_app as create_recommender
from tests.services.conftest import LiveServer

TOOLS = {"similar_models", "search_models", "model_info", "list_methods"}


def text(result) -> str:
    return "\n".join(block.text for block in result.content)


async def exercise(client: Client) -> dict:
    """Every tool once, an unknown id and a bad argument; the answers, for the test to check."""
    tools = await client.list_tools()
    return {
        "tools": {t.name: t for t in tools.tools},
        "similar": await client.call_tool("similar_models", {"model_id": "gpt2", "k": 3}),
        "family": await client.call_tool("similar_models", {"model_id": "gpt2", "k": 5, "relation": "family"}),
        "info": await client.call_tool("model_info", {"model_id": "gpt2"}),
        "methods": await client.call_tool("list_methods", {}),
        "unknown": await client.call_tool("similar_models", {"model_id": "gpt2-mediun"}),
        "bad_k": await client.call_tool("similar_models", {"model_id": "gpt2", "k": 0}),
        "bad_filter": await client.call_tool("similar_models", {"model_id": "gpt2", "filters": {"colour": "red"}}),
        "search": await client.call_tool("search_models", {"need": "speech recognition under 1B parameters", "k": 3}),
    }


def check_common(answers: dict) -> None:
    assert set(answers["tools"]) == TOOLS
    assert "did you mean" not in answers["tools"]["similar_models"].description  # written for a model to read
    assert "family" in answers["tools"]["similar_models"].description
    similar = answers["similar"]
    assert not similar.is_error
    ids = [r["id"] for r in similar.structured_content["results"]]
    assert len(ids) == 3 and "openai-community/gpt2" not in ids
    assert f"https://huggingface.co/{ids[0]}" in text(similar)
    family = answers["family"].structured_content["results"]
    assert family and {r["relation"] for r in family} == {"family"}
    assert answers["info"].structured_content["id"] == "openai-community/gpt2"
    methods = answers["methods"].structured_content["result"]
    assert "cosine" in {m["name"] for m in methods} and sum(m["default"] for m in methods) == 1
    assert answers["unknown"].is_error and "did you mean" in text(answers["unknown"])
    assert "gpt2-medium" in text(answers["unknown"])
    assert answers["bad_k"].is_error and "k must be from 1 to" in text(answers["bad_k"])
    assert answers["bad_filter"].is_error and "unknown filter 'colour'" in text(answers["bad_filter"])


@pytest.mark.parametrize("workers", [1, 2])
def test_streamable_http_on_the_recommender(admin_settings, live, embedder_http, workers):
    settings = admin_settings.model_copy(update={"mcp": True, "workers": workers})
    app = create_recommender(settings, live=live, embedder=EmbedderClient(embedder_http))
    # one process keeps sessions; several workers answer each request on its own (any worker may get it)
    assert app.state.mcp.session_manager.stateless is (workers > 1)
    with LiveServer(app) as server:
        answers = asyncio.run(asyncio.wait_for(_over_http(f"{server.url}/mcp"), 60))
    check_common(answers)
    search = answers["search"]
    assert not search.is_error
    assert search.structured_content["understood"]["tasks"] == ["automatic-speech-recognition"]
    assert "understood: tasks=" in text(search)


async def _over_http(url: str) -> dict:
    async with Client(url) as client:
        return await exercise(client)


def test_mcp_is_off_unless_asked(api):
    assert api.post("/mcp", json={}).status_code == 404


def test_stdio_via_hfmrs_mcp(admin_settings, built):
    env = {
        **os.environ,
        "HFMRS_HOME": str(admin_settings.home),
        "HFMRS_SNAPSHOT_DIR": str(admin_settings.snapshot_dir),
        "HFMRS_ENCODER_RUNTIME": "torch",  # no ONNX export in this test: the build's encoder is a fake
        "HF_HUB_OFFLINE": "1",
    }
    command = StdioServerParameters(
        command=sys.executable, args=["-c", "from services.cli import app; app()", "mcp"], env=env
    )
    answers = asyncio.run(asyncio.wait_for(_over_stdio(command), 120))
    check_common(answers)
    # the test build was embedded by a keyword fake: the real query encoder refuses to search it
    assert answers["search"].is_error and "the build was made with" in text(answers["search"])


def test_stdio_beside_running_services_goes_through_the_api(admin_settings, live, embedder_http):
    # The recommender holds the build (one process may open a Qdrant Edge shard): `hfmrs mcp` answers
    # through its API instead, searches included (embedded by the services' own embedder).
    app = create_recommender(admin_settings, live=live, embedder=EmbedderClient(embedder_http))
    with live.acquire():  # the live engine opens the build (and so holds its lock) before the subprocess starts
        pass
    with LiveServer(app) as server:
        env = {
            **os.environ,
            "HFMRS_HOME": str(admin_settings.home),
            "HFMRS_SNAPSHOT_DIR": str(admin_settings.snapshot_dir),
            "HFMRS_RECOMMENDER_URL": server.url,
            "HF_HUB_OFFLINE": "1",
        }
        command = StdioServerParameters(
            command=sys.executable, args=["-c", "from services.cli import app; app()", "mcp"], env=env
        )
        answers = asyncio.run(asyncio.wait_for(_over_stdio(command), 120))
    check_common(answers)
    assert answers["search"].structured_content["understood"]["tasks"] == ["automatic-speech-recognition"]


async def _over_stdio(command: StdioServerParameters) -> dict:
    async with Client(command) as client:
        return await exercise(client)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def test_the_api_backend_keeps_ids_inside_the_model_route():
    import httpx

    from services.clients import RecommenderClient
    from services.mcp.server import ApiBackend

    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path.decode())
        return httpx.Response(200, json={})

    client = RecommenderClient(httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(answer)))
    backend = ApiBackend(client)
    backend.info("../../admin/reload")
    backend.similar("a?b#c", 3, "all", None, Filters())
    assert asked[0] == "/v1/models/%2E%2E/%2E%2E/admin/reload"
    assert asked[1].startswith("/v1/models/a%3Fb%23c/similar?")
