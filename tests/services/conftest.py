"""Services wired together in-process: the recommender calls the embedder through a TestClient."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from hfmrs.pipeline import build
from services.clients import EmbedderClient
from services.embedder.app import create_app as create_embedder
from services.recommender.app import create_app as create_recommender
from services.recommender.live import LiveEngine

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
def admin_settings(settings):
    return settings.model_copy(update={"admin_token": ADMIN_TOKEN})


@pytest.fixture
def embedder_http(admin_settings, encoder) -> TestClient:
    return TestClient(create_embedder(admin_settings, encoder=encoder))


@pytest.fixture
def built(admin_settings, encoder):
    return build(admin_settings, encoder=encoder, show_progress=False)


@pytest.fixture
def live(admin_settings, built):
    engine = LiveEngine(admin_settings, check_interval=0.0)
    yield engine
    engine.close()


@pytest.fixture
def api(admin_settings, live, embedder_http) -> TestClient:
    app = create_recommender(admin_settings, live=live, embedder=EmbedderClient(embedder_http))
    return TestClient(app)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a thread (bounded start-up wait)."""

    def __init__(self, app, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def down_embedder() -> EmbedderClient:
    """An embedder client pointing at a closed port: every call fails to connect."""
    return EmbedderClient(httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", timeout=2.0))


def api_error(response, status: int, code: str) -> dict:
    """The error body of ``response``, checked: the status, the one error shape, a code and a message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
