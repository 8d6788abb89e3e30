"""The running web UI app through gradio_client (its named API endpoints) and its /health route."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from gradio_client import Client

from services.ui import handlers
from services.ui.app import create_app
from tests.services.conftest import LiveServer, free_port
from tests.services.ui.conftest import Stack


@pytest.fixture(scope="module")
def gradio(ui_server: LiveServer) -> Iterator[Client]:
    client = Client(ui_server.url + "/", verbose=False, analytics_enabled=False, download_files=False)
    yield client
    client.close()


def filters(**given) -> list:
    """The filter controls' values, positionally (one per field the UI shows), untouched where not given."""
    untouched = {"number": 0, "choice": None, "text": None}
    return [given.get(f.name, untouched[f.ui] if f.default is None else f.default) for f in handlers.ui_fields()]


def _ids(html: str) -> list[str]:
    # One card per result; the Family and Alternatives sections keep the overall rank numbers.
    cards = re.findall(
        r'<li class="hf-card[^"]*" data-id="([^"]+)"><div class="hf-head"><span class="hf-rank">(\d+)<', html
    )
    return [model_id for model_id, _ in sorted(cards, key=lambda card: int(card[1]))]


def test_recommend_endpoint(gradio: Client):
    cards, message, _suggestions = gradio.predict(
        "gpt2", "cosine", 5, "downloads-desc", "all", *filters(), api_name="/recommend"
    )
    assert _ids(cards) == [
        "distilbert/distilgpt2",
        "openai-community/gpt2-large",
        "gpt2-medium",
        "acme/gpt2-finetuned",
        "acme/gpt2-gguf",
    ]
    assert 'data-relation="family"' in cards or "hf-section" not in cards
    only, _, _ = gradio.predict("gpt2", "cosine", 5, "score", "family", *filters(), api_name="/recommend")
    assert _ids(only) and "openai-community/gpt2-large" in _ids(only)
    assert "5 models similar to" in message and "openai-community/gpt2" in message


def test_recommend_endpoint_with_filters_and_unknown_id(gradio: Client):
    cards, message, _ = gradio.predict(
        "gpt2", "jaccard", 10, "score", "all", *filters(pipeline_tag="image-classification"), api_name="/recommend"
    )
    assert sorted(_ids(cards)) == ["vision/vit-base", "vision/vit-large"]
    assert "filters: task: image-classification" in message
    cards, message, suggestions = gradio.predict(
        "gpt2-mediun", "cosine", 10, "score", "all", *filters(), api_name="/recommend"
    )
    assert cards == "" and message.startswith("Unknown model 'gpt2-mediun'. Did you mean: gpt2-medium")
    assert [value for _, value in suggestions["choices"]] == ["gpt2-medium", "gpt2", "acme/gpt2-finetuned"]


def test_compare_and_about_endpoints(gradio: Client, stack: Stack):
    list_a, list_b, overlap = gradio.predict("gpt2", "cosine", "jaccard", 5, "score", *filters(), api_name="/compare")
    assert set(_ids(list_a)) == set(_ids(list_b)) and "share 5 of their top 5" in overlap
    about, gallery = gradio.predict(api_name="/about")
    assert "**Models**: 15" in about and len(gallery) == 1


def test_ui_health_reports_the_recommender(ui_server: LiveServer, stack: Stack):
    body = httpx.get(ui_server.url + "/health", timeout=10).json()
    assert body == {"status": "ok", "service": "hfmrs-ui", "recommender": stack.recommender_url, "recommender_ok": True}
    down = stack.settings.model_copy(update={"recommender_url": f"http://127.0.0.1:{free_port()}"})
    body = TestClient(create_app(down)).get("/health").json()
    assert body["status"] == "ok" and body["recommender_ok"] is False


def test_each_visitor_has_their_own_api_budget(stack: Stack):
    """The UI forwards its visitor's address, so the API's per-client budgets count visitors, not the UI."""
    from services.recommender.app import create_app as create_recommender
    from services.recommender.live import LiveEngine

    live = LiveEngine(stack.settings)
    strict = stack.settings.model_copy(update={"suggest_per_minute": 1})
    with LiveServer(create_recommender(strict, live=live)) as api:
        ui_settings = stack.settings.model_copy(update={"recommender_url": api.url})
        with LiveServer(create_app(ui_settings)) as ui:
            # uvicorn trusts X-Forwarded-For from 127.0.0.1: each client stands for a visitor elsewhere
            visitors = [
                Client(ui.url + "/", verbose=False, analytics_enabled=False, headers={"X-Forwarded-For": address})
                for address in ("10.0.0.1", "10.0.0.2")
            ]
            try:
                asked = [
                    visitors[i].predict(typo, "cosine", 10, "score", "all", *filters(), api_name="/recommend")
                    for i, typo in ((0, "gpt2-mediun"), (0, "gpt2-mediux"), (1, "gpt2-mediuz"))
                ]
            finally:
                for visitor in visitors:
                    visitor.close()
    live.close()
    first, again, other = (message for _, message, _ in asked)
    assert "Did you mean: gpt2-medium" in first
    assert "Did you mean" not in again  # the first visitor's one suggestion search a minute is spent
    assert "Did you mean: gpt2-medium" in other  # the second visitor's is not
