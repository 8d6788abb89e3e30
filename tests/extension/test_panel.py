"""End to end in headless Chromium: the unpacked extension on fixture Hub pages, against a live API."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from tests.extension.conftest import ARTIFACTS, HOSTILE_ID, HUB, REAL_PAGES_DIR, real_page

pytestmark = pytest.mark.browser

PANEL = "[data-hfmrs-panel]"


def api_ids(recommender: str, model_id: str, k: int = 10) -> list[str]:
    """The API's results as the panel shows them: the family section, then the alternatives."""
    answer = httpx.get(f"{recommender}/v1/models/{model_id}/similar", params={"k": k, "sort": "score"}, timeout=10)
    answer.raise_for_status()
    results = answer.json()["results"]
    if len({r["relation"] for r in results}) < 2:
        return [r["id"] for r in results]
    return [r["id"] for r in results if r["relation"] == "family"] + [
        r["id"] for r in results if r["relation"] == "alternative"
    ]


def ready_panel(page, model_id: str):
    panel = page.locator(PANEL)
    expect(panel).to_have_attribute("data-model", model_id)
    expect(panel).to_have_attribute("data-state", "ready")
    expect(page.locator(PANEL)).to_have_count(1)
    return panel


def panel_ids(page) -> list[str]:
    return page.locator(f"{PANEL} .hfmrs-id").all_text_contents()


def test_panel_lists_similar_models_for_a_known_id(browser, page, recommender):
    browser.configure(recommender, k=10)
    page.goto(f"{HUB}/openai-community/gpt2")
    panel = ready_panel(page, "openai-community/gpt2")

    expected = api_ids(recommender, "openai-community/gpt2")
    assert len(expected) == 10
    assert panel_ids(page) == expected
    assert set(expected[:5]) == {
        "distilbert/distilgpt2",
        "openai-community/gpt2-large",
        "gpt2-medium",
        "acme/gpt2-finetuned",
        "acme/gpt2-gguf",
    }
    # two sections: the model's family, then the alternatives
    expect(panel.locator(".hfmrs-section")).to_have_text(["Family", "Alternatives"])
    family = panel.locator('.hfmrs-list[data-relation="family"] .hfmrs-id')
    expect(family.first).to_have_text("openai-community/gpt2-large")
    # in the sidebar (found by structure), linked to the models' pages, with a match and downloads
    assert panel.evaluate("p => p.parentElement.dataset.fixture") == "sidebar"
    first = panel.locator(".hfmrs-row").first
    expect(first.locator("a")).to_have_attribute("href", f"{HUB}/openai-community/gpt2-large")
    expect(first.locator(".hfmrs-match-n")).to_have_text("100")  # a 0-100 match, not a raw score
    expect(first.locator(".hfmrs-match")).to_have_attribute("aria-valuenow", "100")
    expect(first.locator(".hfmrs-downloads")).to_have_text("↓ 1M")
    expect(panel.locator(".hfmrs-title")).to_contain_text("Similar Models")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "extension-panel.png", full_page=True)
    panel.screenshot(path=ARTIFACTS / "extension-panel-closeup.png")


def test_legacy_ids_and_repo_subpages(page, browser, recommender):
    browser.configure(recommender, k=5)
    page.goto(f"{HUB}/gpt2")
    ready_panel(page, "gpt2")
    assert panel_ids(page) == api_ids(recommender, "gpt2", k=5)

    page.goto(f"{HUB}/bert-base-uncased/discussions")
    ready_panel(page, "bert-base-uncased")
    assert panel_ids(page) == api_ids(recommender, "bert-base-uncased", k=5)

    page.goto(f"{HUB}/vision/vit-base/tree/main")
    ready_panel(page, "vision/vit-base")
    assert panel_ids(page)[0] == "vision/vit-large"


def test_non_model_pages_get_no_panel(page, browser, recommender):
    browser.configure(recommender)
    page.goto(f"{HUB}/openai-community/gpt2")
    ready_panel(page, "openai-community/gpt2")  # the extension is active on this site
    for path in ("/datasets/acme/data", "/spaces/acme/demo", "/acme", "/docs/hub", "/models", "/settings/profile"):
        page.goto(f"{HUB}{path}")
        page.wait_for_timeout(600)  # more than the content script needs to act
        assert page.locator(PANEL).count() == 0 and page.locator("[data-hfmrs-drawer]").count() == 0, path


def test_page_rerenders_leave_exactly_one_panel(page, browser, recommender):
    browser.configure(recommender, k=5)
    page.goto(f"{HUB}/openai-community/gpt2")
    ready_panel(page, "openai-community/gpt2")
    # the Hub's hydration may drop foreign nodes from the sidebar: the panel comes back
    page.evaluate("document.querySelector('[data-hfmrs-panel]').remove()")
    ready_panel(page, "openai-community/gpt2")
    # a stray second copy (say, a script injected twice) is removed
    page.evaluate("""() => {
        const panel = document.querySelector('[data-hfmrs-panel]');
        panel.parentElement.prepend(panel.cloneNode(true));
    }""")
    page.wait_for_timeout(300)
    expect(page.locator(PANEL)).to_have_count(1)
    expect(page.locator(f"{PANEL} .hfmrs-row")).to_have_count(5)


def test_unknown_model_shows_a_quiet_empty_state(page, browser, recommender):
    browser.configure(recommender)
    page.goto(f"{HUB}/acme/not-in-the-catalog")
    panel = page.locator(PANEL)
    expect(panel).to_have_attribute("data-state", "empty")
    expect(panel).to_contain_text("not in the HFMRS catalog")


VIEWPORT = {"width": 1400, "height": 900}
TAB = "[data-hfmrs-drawer] .hfmrs-tab"
# Whether an element is on screen in the first viewport, without scrolling.
IN_FIRST_VIEWPORT = """e => { const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth
    && window.scrollY === 0; }"""
VISIBLE_PANELS_AND_TABS = f"""() => [...document.querySelectorAll('[data-hfmrs-panel], {TAB}')]
  .filter(e => {{ const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }}).length"""


def test_without_a_sidebar_the_panel_waits_behind_a_tab(page, browser, recommender):
    browser.configure(recommender)
    page.goto(f"{HUB}/acme/wav2vec2-speech")  # served without a sidebar
    panel = ready_panel(page, "acme/wav2vec2-speech")
    tab = page.locator(TAB)
    expect(tab).to_be_visible()
    assert tab.evaluate(IN_FIRST_VIEWPORT) and page.evaluate(VISIBLE_PANELS_AND_TABS) == 1
    assert panel.evaluate("p => !p.closest('main')")  # never inside the page's content
    expect(panel).to_be_hidden()
    tab.focus()
    page.keyboard.press("Enter")  # keyboard accessible: a button
    expect(panel).to_be_visible()
    assert panel.evaluate(IN_FIRST_VIEWPORT)
    expect(tab).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")  # dismissible; focus goes back to the tab
    expect(panel).to_be_hidden()
    assert page.evaluate("document.activeElement?.classList.contains('hfmrs-tab')")


def test_the_drawer_is_remembered_open_across_pages(page, browser, recommender):
    browser.configure(recommender)
    page.goto(f"{HUB}/acme/wav2vec2-speech")
    ready_panel(page, "acme/wav2vec2-speech")
    page.locator(TAB).click()
    expect(page.locator(PANEL)).to_be_visible()
    page.goto(f"{HUB}/acme/scrambled-layout")  # another page without a sidebar: opens as it was left
    expect(page.locator(PANEL)).to_have_attribute("data-model", "acme/scrambled-layout")
    expect(page.locator(PANEL)).to_be_visible()
    page.locator("[data-hfmrs-drawer] .hfmrs-close").click()
    page.goto(f"{HUB}/acme/wav2vec2-speech")
    ready_panel(page, "acme/wav2vec2-speech")
    expect(page.locator(TAB)).to_be_visible()
    expect(page.locator(PANEL)).to_be_hidden()


def test_scrambled_class_names_and_no_sidebar_still_show_the_tab(page, browser, recommender):
    browser.configure(recommender)
    page.goto(f"{HUB}/acme/scrambled-layout")
    expect(page.locator(TAB)).to_be_visible()
    assert page.locator(TAB).evaluate(IN_FIRST_VIEWPORT) and page.evaluate(VISIBLE_PANELS_AND_TABS) == 1


def test_the_sidebar_panel_sits_high_in_the_sidebar(page, browser, recommender):
    browser.configure(recommender)
    page.goto(f"{HUB}/openai-community/gpt2")
    panel = ready_panel(page, "openai-community/gpt2")
    # right after the sidebar's first block ("Downloads last month"), found by its text, not its class
    assert panel.evaluate("p => p.previousElementSibling.textContent.includes('Downloads last month')")
    assert page.locator(PANEL).evaluate("p => p.getBoundingClientRect().top < innerHeight")
    expect(page.locator(TAB)).to_have_count(0)  # a sidebar, so no tab
    more = panel.locator(".hfmrs-more")
    expect(more).to_have_attribute("href", "http://localhost:7860/?model=openai-community%2Fgpt2")


REAL = [
    "/TheBloke/Mistral-7B-v0.1-GGUF/blob/main/README.md",  # a rendered README, no sidebar
    "/Qwen/Qwen3-Coder-30B-A3B-Instruct/blob/main/qwen3coder_tool_parser.py",  # code, no .prose, no <aside>
]


@pytest.mark.parametrize("path", REAL, ids=["readme-view", "code-view"])
def test_real_hub_pages_show_one_visible_tab_in_the_first_viewport(page, browser, recommender, path):
    if real_page(path) is None:
        pytest.skip(f"the saved Hub pages are not here ({REAL_PAGES_DIR})")
    browser.configure(recommender)
    page.goto(f"{HUB}{path}")
    tab = page.locator(TAB)
    expect(tab).to_be_visible()
    assert tab.evaluate(IN_FIRST_VIEWPORT) and page.evaluate(VISIBLE_PANELS_AND_TABS) == 1
    model_id = "/".join(path.split("/")[1:3])
    panel = page.locator(PANEL)
    expect(panel).to_have_attribute("data-model", model_id)  # the id from the path, sub-page or not
    assert panel.evaluate("p => !p.closest('main, .prose, pre')")  # never in the README or the file
    tab.click()
    expect(panel).to_be_visible()
    assert panel.evaluate(IN_FIRST_VIEWPORT)
    name = "drawer" if "README" in path else "drawer-code"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"extension-{name}.png")
    page.locator("[data-hfmrs-drawer] .hfmrs-close").click()


def test_hostile_model_id_renders_as_text(page, browser, fake_api):
    browser.configure(fake_api)
    page.goto(f"{HUB}/openai-community/gpt2")
    panel = ready_panel(page, "openai-community/gpt2")
    link = panel.locator(".hfmrs-id").first
    expect(link).to_have_text(HOSTILE_ID)
    expect(link).to_have_attribute("href", f"{HUB}/{quote(HOSTILE_ID, safe='')}")
    assert panel.locator("img").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None


def test_api_down_shows_an_error_linking_to_the_options(page, browser, down_api):
    browser.configure(down_api)
    page.goto(f"{HUB}/openai-community/gpt2")
    panel = page.locator(PANEL)
    expect(panel).to_have_attribute("data-state", "error")
    expect(panel).to_contain_text(f"Cannot reach the HFMRS API at {down_api}")
    with browser.context.expect_page() as opened:
        panel.get_by_text("Check the options").click()
    options = opened.value
    options.wait_for_load_state()
    assert options.url == browser.options_url
    options.close()


def test_changing_the_count_in_the_options_rerenders_open_panels(page, browser, recommender):
    browser.configure(recommender, k=10)
    page.goto(f"{HUB}/openai-community/gpt2")
    ready_panel(page, "openai-community/gpt2")
    expect(page.locator(f"{PANEL} .hfmrs-row")).to_have_count(10)
    page.evaluate("window.__sameDocument = true")

    browser.configure(recommender, k=5)  # in another tab
    expect(page.locator(f"{PANEL} .hfmrs-row")).to_have_count(5)
    assert panel_ids(page) == api_ids(recommender, "openai-community/gpt2", k=5)
    assert page.evaluate("window.__sameDocument") is True  # no reload


def test_client_side_navigation_updates_the_panel(page, browser, recommender):
    browser.configure(recommender, k=5)
    page.goto(f"{HUB}/openai-community/gpt2")
    ready_panel(page, "openai-community/gpt2")
    page.evaluate("window.__sameDocument = true")

    page.click("a[data-spa][href='/vision/vit-base']")  # history.pushState + a new <main>, like the Hub
    expect(page).to_have_url(f"{HUB}/vision/vit-base")
    ready_panel(page, "vision/vit-base")
    assert panel_ids(page)[0] == "vision/vit-large"

    page.click("a[data-spa][href='/datasets/acme/data']")
    expect(page).to_have_url(f"{HUB}/datasets/acme/data")
    expect(page.locator(PANEL)).to_have_count(0)
    expect(page.locator(TAB)).to_have_count(0)  # datasets get neither a panel nor a tab

    page.go_back()  # popstate
    page.go_back()
    expect(page).to_have_url(f"{HUB}/openai-community/gpt2")
    ready_panel(page, "openai-community/gpt2")
    assert page.evaluate("window.__sameDocument") is True  # all of it without a page load


def test_client_side_navigation_between_a_drawer_page_and_a_sidebar_page(page, browser, recommender):
    browser.configure(recommender, k=5)
    page.goto(f"{HUB}/acme/wav2vec2-speech")  # no sidebar: the tab
    ready_panel(page, "acme/wav2vec2-speech")
    expect(page.locator(TAB)).to_be_visible()
    page.evaluate(
        """() => { const a = Object.assign(document.createElement('a'), {href: '/openai-community/gpt2',
                   textContent: 'gpt2'}); a.dataset.spa = ''; a.id = 'go'; document.body.append(a); }"""
    )
    page.click("#go")  # history.pushState + a new <main> with a sidebar
    ready_panel(page, "openai-community/gpt2")
    expect(page.locator(TAB)).to_have_count(0)  # the tab went with the drawer
    assert page.locator(PANEL).evaluate("p => p.closest('[data-fixture=sidebar]') !== null")
    page.go_back()  # popstate: no sidebar again
    ready_panel(page, "acme/wav2vec2-speech")
    expect(page.locator(TAB)).to_be_visible()
    assert page.evaluate(VISIBLE_PANELS_AND_TABS) == 1


def test_options_page_finds_models_for_a_need_and_shows_answers_as_text(browser, fake_api):
    browser.configure(fake_api)
    page = browser.context.new_page()
    try:
        page.goto(browser.options_url)
        page.wait_for_selector("body[data-ready]")
        page.click("#findGo")
        expect(page.locator("#findStatus")).to_have_text("Describe what you need first.")
        page.fill("#need", "German speech recognition")
        page.press("#need", "Enter")
        expect(page.locator("#findStatus")).to_have_text("2 models.")
        links = page.locator("#found li a")
        expect(links.first).to_have_text(HOSTILE_ID)
        expect(links.first).to_have_attribute("href", f"https://huggingface.co/{quote(HOSTILE_ID, safe='')}")
        expect(links.nth(1)).to_have_text("acme/harmless")
        chips = page.locator("#understood li").all_inner_texts()
        assert chips[:2] == ["tasks: automatic-speech-recognition", "languages: de"]
        assert chips[2] == f"{HOSTILE_ID}: 1"
        assert page.evaluate("window.__pwned") is None
    finally:
        page.close()


def test_options_page_offers_the_apis_methods_and_validates(browser, recommender, down_api):
    page = browser.context.new_page()
    try:
        page.goto(browser.options_url)
        page.wait_for_selector("body[data-ready]")
        page.fill("#apiBase", recommender)
        page.press("#apiBase", "Tab")  # "change": the method list is reloaded from this API
        expect(page.locator("#methodHint")).to_have_text("Methods offered by this API.")
        # (the saved API's list may be showing first: wait for this API's five entries)
        expect(page.locator("#method option")).to_have_count(5)
        values = page.locator("#method option").evaluate_all("options => options.map(o => o.value)")
        assert values == ["", "cosine", "jaccard", "bm25", "fused"]
        expect(page.locator("#method option").first).to_have_text("Server default (cosine)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "extension-options.png")

        page.fill("#apiBase", down_api)
        page.press("#apiBase", "Tab")
        expect(page.locator("#methodHint")).to_contain_text("could not be reached")
        values = page.locator("#method option").evaluate_all("options => options.map(o => o.value)")
        assert values == ["", "cosine", "jaccard"]

        page.fill("#apiBase", "javascript:alert(1)")
        page.click("#save")
        expect(page.locator("#status")).to_have_text("Enter an http:// or https:// URL.")
        page.fill("#apiBase", recommender)
        page.fill("#k", "31")
        page.click("#save")
        expect(page.locator("#status")).to_have_text("The number of models must be 5 to 30.")
        page.fill("#k", "10")
        page.fill("#uiBase", "javascript:alert(1)")
        page.click("#save")
        expect(page.locator("#status")).to_have_text("Enter an http:// or https:// URL for the web UI.")
        page.fill("#uiBase", "http://127.0.0.1:7860/")
        page.click("#save")
        expect(page.locator("#status")).to_have_text("Saved.")
        expect(page.locator("#uiBase")).to_have_value("http://127.0.0.1:7860/")  # kept as typed, stored normalised
        stored = page.evaluate("chrome.storage.sync.get('uiBase')")
        assert stored == {"uiBase": "http://127.0.0.1:7860"}
    finally:
        page.close()


@pytest.mark.parametrize(
    ("path", "model_id"),
    [
        ("/openai-community/gpt2", "openai-community/gpt2"),
        ("/openai-community/gpt2/tree/main/onnx", "openai-community/gpt2"),
        ("/openai-community/gpt2/discussions/12", "openai-community/gpt2"),
        ("/gpt2", "gpt2"),
        ("/gpt2/blob/main/config.json", "gpt2"),
        ("/gpt2/discussions", "gpt2"),
        ("/acme/model.v1_final-2", "acme/model.v1_final-2"),
        ("/datasets/acme/data", None),
        ("/spaces/acme/demo", None),
        ("/docs/transformers/index", None),
        ("/settings/tokens", None),
        ("/blog/welcome", None),
        ("/papers/2401.00001", None),
        ("/models", None),
        ("/organizations/acme/settings", None),
        ("/", None),
        ("/%E0%A4%A", None),
        ("/acme/..", None),
    ],
)
def test_model_id_from_path(browser, path, model_id, _options_page):
    assert _options_page.evaluate("path => HFMRS.modelIdFromPath(path)", path) == model_id


@pytest.fixture(scope="module")
def _options_page(browser):
    page = browser.context.new_page()
    page.goto(browser.options_url)
    yield page
    page.close()


@pytest.mark.skipif(not os.environ.get("HFMRS_SCREENSHOT_API"), reason="set HFMRS_SCREENSHOT_API to a running API")
def test_readme_screenshots(page, browser):
    """chrome-ext/README.md's pictures, from a running API over the bundled catalog (`make run`):
    HFMRS_SCREENSHOT_API=http://127.0.0.1:8000 pytest tests/extension -k readme_screenshots"""
    browser.configure(os.environ["HFMRS_SCREENSHOT_API"])
    out = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    page.goto(f"{HUB}/openai-community/gpt2")
    ready_panel(page, "openai-community/gpt2")
    page.screenshot(path=out / "extension-sidebar.png")
    path = REAL[0]
    if real_page(path) is not None:
        page.goto(f"{HUB}{path}")
        page.locator(TAB).click()
        ready_panel(page, "TheBloke/Mistral-7B-v0.1-GGUF")
        page.screenshot(path=out / "extension-drawer.png")
