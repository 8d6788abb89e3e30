"""Fixtures for the extension's browser tests.

Debian's Chromium (never a downloaded browser) loads the unpacked extension and visits
``https://huggingface.co/...``, which ``--host-resolver-rules`` sends to a local HTTPS server (a throwaway
self-signed certificate, accepted with ``--ignore-certificate-errors``) serving fixture pages built like the
Hub's.  The panel's data come from a live recommender (the test catalog, keyword encoder) or from a fake API
on 127.0.0.1.  Only the test copy of the manifest changes: it may also reach those local API ports.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from hfmrs.embedding import KeywordEncoder
from hfmrs.pipeline import build
from hfmrs.settings import Settings
from services.clients import EmbedderClient
from services.recommender.app import create_app as create_recommender
from services.recommender.live import LiveEngine
from tests.conftest import KEYWORDS, write_snapshots
from tests.services.conftest import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]
EXTENSION_SRC = ROOT / "chrome-ext"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("HFMRS_CHROMIUM", "/usr/bin/chromium"))
HUB = "https://huggingface.co"

HOSTILE_ID = "<img src=x onerror=window.__pwned=1>"

# Fixture-site routing: which pages are what.
SITE_PAGES = {"docs", "settings", "blog", "papers", "models", "datasets", "spaces", "pricing", "organizations"}
USERS = {"acme", "vision"}
NO_SIDEBAR = {"acme/wav2vec2-speech"}  # served without a sidebar: the panel waits behind a tab
SCRAMBLED = {"acme/scrambled-layout"}  # no sidebar and every class name changed, as a redesign might
# Real Hub pages saved by other people (../shared, see its README): served at their own paths, scripts
# stripped (the page is static markup here; the Hub's JS and CSS were not saved).
REAL_PAGES_DIR = ROOT.parent / "shared" / "fixtures" / "hub-pages"
REAL_PAGES = {
    "/TheBloke/Mistral-7B-v0.1-GGUF/blob/main/README.md": "TheBloke_Mistral-7B-v0.1-GGUF_blob_main_README.md.html",
    "/Qwen/Qwen3-Coder-30B-A3B-Instruct/blob/main/qwen3coder_tool_parser.py": (
        "Qwen_Qwen3-Coder-30B-A3B-Instruct_blob_main_qwen3coder_tool_parser.py.html"
    ),
}
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)
_CLASS = re.compile(r'class="[^"]*"')


def real_page(path: str) -> bytes | None:
    name = REAL_PAGES.get(path)
    if name is None or not (REAL_PAGES_DIR / name).is_file():
        return None
    return _SCRIPT.sub("", (REAL_PAGES_DIR / name).read_text(encoding="utf-8")).encode()


def scramble(body: str) -> str:
    """Every class attribute replaced by a meaningless one: placement must not depend on class names."""
    count = iter(range(1_000_000))
    return _CLASS.sub(lambda _: f'class="x{next(count)}"', body)


REPO_SUBPAGES = {"tree", "blob", "discussions", "commits"}


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def render_fixture(path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for a path of the fixture Hub."""
    if path.startswith("/front/fixture/"):
        name = path.rsplit("/", 1)[-1]
        types = {"hf.css": "text/css", "spa.js": "text/javascript"}
        if name in types:
            return 200, types[name], (FIXTURES / name).read_bytes()
        return 404, "text/plain", b"not found"
    if (real := real_page(path)) is not None:
        return 200, "text/html; charset=utf-8", real
    parts = [unquote(p) for p in path.split("/") if p]

    def page(name: str) -> str:
        return (FIXTURES / name).read_text(encoding="utf-8")

    if not parts:
        body = _fill(page("docs.html"), PATH="Home")
    elif parts[0] in ("datasets", "spaces") and len(parts) >= 3:
        repo_id = f"{parts[1]}/{parts[2]}"
        body = _fill(page("dataset.html"), KIND=parts[0], ID=html.escape(repo_id))
    elif parts[0] in SITE_PAGES or parts[0] == "favicon.ico":
        body = _fill(page("docs.html"), PATH=html.escape(path))
    elif len(parts) == 1 and parts[0] in USERS:
        body = _fill(page("user.html"), NAME=html.escape(parts[0]))
    else:
        legacy = len(parts) == 1 or parts[1] in REPO_SUBPAGES
        model_id = parts[0] if legacy else f"{parts[0]}/{parts[1]}"
        org, _, name = model_id.rpartition("/")
        org_link = (
            '<div class="group flex flex-none items-center"><span class="inline-block"><span class="contents">'
            f'<a href="/{html.escape(org)}" class="text-gray-400 hover:text-blue-600">{html.escape(org)}</a>'
            '</span></span><div class="mx-0.5 text-gray-300">/</div></div>'
            if org
            else ""
        )
        task = "image-classification" if "vit" in model_id else "text-generation"
        body = _fill(
            page("model.html"),
            ID=html.escape(model_id),
            NAME=html.escape(name),
            ORG_LINK=org_link,
            TASK=task,
            DOWNLOADS="7,812,345",
        )
        if model_id in NO_SIDEBAR | SCRAMBLED:
            start, end = body.index("<!-- sidebar -->"), body.index("<!-- /sidebar -->")
            body = body[:start] + body[end:]
        if model_id in SCRAMBLED:
            body = scramble(body)
    return 200, "text/html; charset=utf-8", body.encode()


class FixtureHubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status, content_type, body = render_fixture(urlsplit(self.path).path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="package")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="package")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for huggingface.co (made with the openssl command line)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the browser tests need the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "2", "-subj", "/CN=huggingface.co", "-addext", "subjectAltName=DNS:huggingface.co",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="package")
def hub_site(tls_files) -> Iterator[int]:
    """The fixture Hub over HTTPS on 127.0.0.1; yields its port."""
    cert, key = tls_files
    server = ThreadingHTTPServer(("127.0.0.1", 0), FixtureHubHandler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="package")
def recommender(tmp_path_factory) -> Iterator[str]:
    """The real recommender API over the small test catalog; yields its base URL."""
    tmp = tmp_path_factory.mktemp("ext-catalog")
    settings = Settings(
        home=tmp / "home",
        snapshot_dir=write_snapshots(tmp / "snapshots"),
        vector_cache=tmp / "no-bundled-vectors",
        _env_file=None,
    )
    build(settings, encoder=KeywordEncoder(KEYWORDS), show_progress=False)
    live = LiveEngine(settings, check_interval=0.0)
    no_embedder = EmbedderClient(httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", timeout=2.0))
    try:
        with LiveServer(create_recommender(settings, live=live, embedder=no_embedder)) as server:
            yield server.url
    finally:
        live.close()


def hostile_api() -> FastAPI:
    """An API whose answer carries markup in a model id: the panel must show it as text."""
    app = FastAPI()

    @app.get("/v1/models/{model_id:path}/similar")
    def similar(model_id: str) -> dict:
        row = {"score": 0.5, "match": 50, "downloads": 12, "likes": 0, "pipeline_tag": None, "library": None, "why": []}
        return {
            "query": model_id,
            "method": "cosine",
            "results": [{**row, "id": HOSTILE_ID, "score": 0.99}, {**row, "id": "acme/harmless"}],
        }

    @app.get("/v1/methods")
    def methods() -> list[dict]:
        return [{"name": "cosine", "description": "fake", "default": True}]

    @app.get("/v1/search")
    def search(q: str) -> dict:
        row = {"score": 0.5, "downloads": 12, "likes": 0, "pipeline_tag": None, "library": None}
        return {
            "query": q,
            "method": "fused",
            "understood": {"tasks": ["automatic-speech-recognition"], "languages": ["de"], HOSTILE_ID: 1},
            "results": [{**row, "id": HOSTILE_ID, "why": [HOSTILE_ID]}, {**row, "id": "acme/harmless", "why": []}],
        }

    return app


@pytest.fixture(scope="package")
def fake_api() -> Iterator[str]:
    with LiveServer(hostile_api()) as server:
        yield server.url


@pytest.fixture(scope="package")
def down_api() -> str:
    """A base URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="package")
def extension_dir(tmp_path_factory, recommender, fake_api, down_api) -> Path:
    """A test copy of chrome-ext/ whose manifest may also reach the local test APIs (their ports are random)."""
    target = tmp_path_factory.mktemp("ext") / "chrome-ext"
    shutil.copytree(EXTENSION_SRC, target, ignore=shutil.ignore_patterns("README.md", "pack.*"))
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["host_permissions"] += [f"{url}/*" for url in (recommender, fake_api, down_api)]
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return target


@dataclass
class Browser:
    context: object  # playwright BrowserContext
    extension_id: str

    @property
    def options_url(self) -> str:
        return f"chrome-extension://{self.extension_id}/options.html"

    def configure(
        self, api_base: str, k: int = 10, sort: str = "score", method: str = "", ui_base: str = "http://localhost:7860"
    ) -> None:
        """Save settings the way a user does: through the options page."""
        from playwright.sync_api import expect

        page = self.context.new_page()
        try:
            page.goto(self.options_url)
            page.wait_for_selector("body[data-ready]", timeout=10_000)
            page.evaluate("chrome.storage.local.clear()")  # what the pages remembered (the drawer left open)
            page.fill("#apiBase", api_base)
            page.fill("#uiBase", ui_base)
            page.fill("#k", str(k))
            page.select_option("#sort", sort)
            page.select_option("#method", method)
            page.click("#save")
            expect(page.locator("#status")).to_have_text("Saved.", timeout=10_000)
        finally:
            page.close()


@pytest.fixture(scope="package")
def browser(chromium, extension_dir, hub_site, tmp_path_factory) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            headless=True,  # Chromium's new headless mode, which runs extensions
            ignore_https_errors=True,
            viewport={"width": 1400, "height": 900},  # the "first viewport" of issue 22
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--disable-extensions-except={extension_dir}",
                f"--load-extension={extension_dir}",
                # test-only: https://huggingface.co is the fixture server, with its self-signed certificate
                f"--host-resolver-rules=MAP huggingface.co 127.0.0.1:{hub_site}",
                "--ignore-certificate-errors",
            ],
        )
        try:
            worker = context.service_workers[0] if context.service_workers else None
            worker = worker or context.wait_for_event("serviceworker", timeout=15_000)
            yield Browser(context=context, extension_id=worker.url.split("/")[2])
        finally:
            context.close()


@pytest.fixture
def page(browser: Browser):
    page = browser.context.new_page()
    page.set_default_timeout(10_000)
    yield page
    page.close()
