"""The running web UI app through gradio_client (its named API endpoints) and its /health route."""

from __future__ import annotations

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


def _ids(*tables: dict) -> list[str]:
    # The model column is a Markdown link "[id](https://huggingface.co/id)"; sections merge by rank.
    rows = sorted((row for table in tables for row in table["data"]), key=lambda row: row[0])
    return [row[1].split("](")[0].lstrip("[") for row in rows]


def test_recommend_endpoint(gradio: Client):
    family, others, chart, message = gradio.predict(
        "gpt2", "cosine", 5, "downloads-desc", "all", *filters(), api_name="/recommend"
    )
    assert family["headers"][:4] == ["#", "model", "score", "downloads"]
    assert "openai-community/gpt2-large" in _ids(family)  # the family section: its lineage and release
    assert _ids(family, others) == [
        "distilbert/distilgpt2",
        "openai-community/gpt2-large",
        "gpt2-medium",
        "acme/gpt2-finetuned",
        "acme/gpt2-gguf",
    ]
    downloads = [row[3] for row in sorted(family["data"] + others["data"], key=lambda row: row[0])]
    assert downloads == sorted(downloads, reverse=True)
    only, none, _, _ = gradio.predict("gpt2", "cosine", 5, "score", "family", *filters(), api_name="/recommend")
    assert only["data"] and none["data"] == []
    assert chart is not None and "openai-community/gpt2" in message


def test_recommend_endpoint_with_filters_and_unknown_id(gradio: Client):
    family, others, _, _ = gradio.predict(
        "gpt2", "jaccard", 10, "score", "all", *filters(pipeline_tag="image-classification"), api_name="/recommend"
    )
    assert sorted(_ids(family, others)) == ["vision/vit-base", "vision/vit-large"]
    family, others, chart, message = gradio.predict(
        "gpt2-mediun", "cosine", 10, "score", "all", *filters(), api_name="/recommend"
    )
    assert family["data"] == others["data"] == [] and chart is None
    assert message.startswith("Unknown model 'gpt2-mediun'. Did you mean: gpt2-medium")


def test_compare_and_about_endpoints(gradio: Client, stack: Stack):
    table_a, table_b, overlap = gradio.predict("gpt2", "cosine", "jaccard", 5, "score", *filters(), api_name="/compare")
    assert set(_ids(table_a)) == set(_ids(table_b)) and "share 5 of their top 5" in overlap
    about, gallery = gradio.predict(api_name="/about")
    assert "**Models**: 15" in about and len(gallery) == 1


def test_ui_health_reports_the_recommender(ui_server: LiveServer, stack: Stack):
    body = httpx.get(ui_server.url + "/health", timeout=10).json()
    assert body == {"status": "ok", "service": "hfmrs-ui", "recommender": stack.recommender_url, "recommender_ok": True}
    down = stack.settings.model_copy(update={"recommender_url": f"http://127.0.0.1:{free_port()}"})
    body = TestClient(create_app(down)).get("/health").json()
    assert body["status"] == "ok" and body["recommender_ok"] is False
