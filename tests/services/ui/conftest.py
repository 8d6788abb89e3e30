"""A live recommender (and web UI) over the small test catalog, started once for all UI tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hfmrs.embedding import KeywordEncoder
from hfmrs.pipeline import build
from hfmrs.settings import Settings
from services.clients import EmbedderClient, RecommenderClient
from services.embedder.app import create_app as create_embedder
from services.recommender.app import create_app as create_recommender
from services.recommender.live import LiveEngine
from tests.conftest import KEYWORDS, write_snapshots
from tests.services.conftest import LiveServer, free_port

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


@dataclass
class Stack:
    settings: Settings
    recommender_url: str
    reports_dir: Path

    def client(self) -> RecommenderClient:
        return RecommenderClient.from_url(self.recommender_url, timeout=10.0)


def _write_report_png(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 32), (255, 157, 0)).save(path)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One build and one recommender on 127.0.0.1 for the whole package (builds are the slow part)."""
    tmp = tmp_path_factory.mktemp("ui")
    reports = tmp / "reports"
    _write_report_png(reports / "downloads.png")
    settings = Settings(
        home=tmp / "home",
        snapshot_dir=write_snapshots(tmp / "snapshots"),
        vector_cache=tmp / "no-bundled-vectors",
        reports_dir=reports,
        _env_file=None,
    )
    encoder = KeywordEncoder(KEYWORDS)
    build(settings, encoder=encoder, show_progress=False)
    live = LiveEngine(settings, check_interval=60.0)
    embedder = EmbedderClient(TestClient(create_embedder(settings, encoder=encoder)))
    with LiveServer(create_recommender(settings, live=live, embedder=embedder)) as server:
        yield Stack(settings.model_copy(update={"recommender_url": server.url}), server.url, reports)
    live.close()


@pytest.fixture
def client(stack: Stack) -> Iterator[RecommenderClient]:
    rc = stack.client()
    yield rc
    rc.client.close()


@pytest.fixture
def down_client() -> Iterator[RecommenderClient]:
    """A client for an API that is not running: a closed port on 127.0.0.1."""
    rc = RecommenderClient.from_url(f"http://127.0.0.1:{free_port()}", timeout=2.0)
    yield rc
    rc.client.close()


@pytest.fixture(scope="package")
def ui_server(stack: Stack) -> Iterator[LiveServer]:
    """The web UI app (Gradio on FastAPI) on 127.0.0.1, talking to the live recommender."""
    from services.ui.app import create_app

    with LiveServer(create_app(stack.settings)) as server:
        yield server
