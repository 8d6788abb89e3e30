"""End to end: the web UI in headless Debian Chromium against a live recommender on 127.0.0.1.

Picks a model by typing in the picker, waits for the results table, checks the ids in it and saves a
screenshot to ``test-artifacts/ui-results.png`` (CI keeps it as an artifact).  Never downloads a
browser: it runs the system's ``/usr/bin/chromium`` and skips, saying so, when that is missing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.services.conftest import LiveServer

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 30_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def _page(browser, blocked: list[str]):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)

    def only_local(route) -> None:
        # The UI must work offline: anything that is not our own server is refused (and reported).
        if urlparse(route.request.url).hostname in LOCAL_HOSTS or route.request.url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return page


def test_pick_a_model_and_see_its_neighbours(browser, ui_server: LiveServer):
    blocked: list[str] = []
    page = _page(browser, blocked)
    try:
        page.goto(ui_server.url + "/", wait_until="domcontentloaded")
        picker = page.locator("#model-picker input")
        picker.click()
        picker.press_sequentially("openai-community/g", delay=20)  # type-ahead: /v1/models?prefix=
        option = page.get_by_role("option", name="openai-community/gpt2", exact=True)
        option.click()
        table = page.locator("#results-table")
        # Gradio's table also keeps a hidden copy of its rows (for measuring): wait for the visible one.
        table.get_by_text("openai-community/gpt2-large").filter(visible=True).first.wait_for()
        family, others = table.inner_text(), page.locator("#alternatives").inner_text()
        for model_id in ("openai-community/gpt2-large", "gpt2-medium", "acme/gpt2-finetuned"):
            assert model_id in family  # the family section: its fine-tunes and size variants
        assert "distilbert/distilgpt2" in family + others
        link = table.get_by_role("link", name="openai-community/gpt2-large").filter(visible=True).first
        assert link.get_attribute("href") == "https://huggingface.co/openai-community/gpt2-large"
        assert "similar to" in page.locator("#status").inner_text()
        page.locator("#score-chart .js-plotly-plot").first.wait_for()  # the bar chart rendered too
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-results.png"), full_page=True)
    finally:
        page.close()
    log.info("requests refused (not local): %s", blocked)


def test_model_preselected_from_the_url(browser, ui_server: LiveServer):
    blocked: list[str] = []
    page = _page(browser, blocked)
    try:
        page.goto(ui_server.url + "/?model=bert-base-uncased", wait_until="domcontentloaded")
        table = page.locator("#results-table")
        table.get_by_text("bert-base-cased").filter(visible=True).first.wait_for()
        assert "google-bert/bert-base-uncased" in page.locator("#status").inner_text()
    finally:
        page.close()


def test_describe_a_need_and_untick_what_was_understood(browser, ui_server: LiveServer):
    page = _page(browser, [])
    try:
        page.goto(ui_server.url + "/", wait_until="domcontentloaded")
        box = page.get_by_label("…or describe what you need")
        box.fill("image classification in German")
        page.get_by_role("button", name="Search by description").click()
        chips = page.locator("#understood")
        chips.get_by_text("task: image-classification").wait_for()
        language = chips.get_by_label("language: de")
        assert language.is_checked()
        page.locator("#results-table").get_by_text("vision/vit-base").filter(visible=True).first.wait_for()
        language.uncheck()  # the search runs again without it; the chip stays, to be ticked again
        page.wait_for_timeout(500)
        assert not language.is_checked() and chips.get_by_label("task: image-classification").is_checked()
        assert "models matching" in page.locator("#status").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-search.png"), full_page=True)
    finally:
        page.close()
