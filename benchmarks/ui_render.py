"""The web UI in headless Chromium: how long a method switch takes to show its results, and screenshots.

Against a running UI (``make run``: http://127.0.0.1:7860) it opens ``/?model=<id>``, then switches the
method over and over, timing each switch in the page, from the press on the option (mousedown) to the
new status line on screen.  ``--baseline-url`` runs the same steps against another UI (an older commit's,
serving the same API) for a side-by-side table.  ``--screenshots DIR`` saves every tab and state (results,
compare, explore, about, a description, an unknown id) as PNGs: the README's pictures.

    .venv/bin/python benchmarks/ui_render.py                                   # make run's UI
    .venv/bin/python benchmarks/ui_render.py --screenshots docs/screenshots    # and the README's pictures
    .venv/bin/python benchmarks/ui_render.py --baseline-url http://127.0.0.1:7861

Needs Debian's /usr/bin/chromium and the playwright Python package; never downloads a browser.
Target (issue 18): a method switch shows its results in < 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, header, print_table, write_json

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TARGET_MS = 300.0
ARM_TIMER = """(method) => {
  window.__renderMs = null;
  let start = null;
  document.addEventListener('mousedown', () => { start = performance.now(); }, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    if (start !== null && (document.querySelector('#status')?.innerText || '').includes('by ' + method)) {
      observer.disconnect();
      window.__renderMs = performance.now() - start;
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def wait_for_status(page: Any, text: str) -> None:
    page.wait_for_function("(t) => (document.querySelector('#status')?.innerText || '').includes(t)", arg=text)


def switch_times(page: Any, url: str, model: str, switches: int, names: list[str]) -> list[float]:
    page.goto(f"{url}/?model={model}", wait_until="domcontentloaded")
    wait_for_status(page, "similar to")
    times = []
    for i in range(switches):
        method = names[i % len(names)]
        page.locator("#method input").click()
        option = page.get_by_role("option").filter(has_text=f"{method} —").first
        option.wait_for()
        page.evaluate(ARM_TIMER, method)
        option.click()
        page.wait_for_function("() => window.__renderMs !== null", timeout=30_000)
        times.append(page.evaluate("window.__renderMs"))
    return times


def screenshots(page: Any, url: str, model: str, out: Path) -> list[str]:
    """Every tab and state, at 1400×1000."""
    out.mkdir(parents=True, exist_ok=True)
    saved = []

    def shot(name: str) -> None:
        page.wait_for_timeout(400)  # the status line's "updating" fade ends
        page.screenshot(path=str(out / f"{name}.png"))
        saved.append(str(out / f"{name}.png"))

    page.goto(f"{url}/?model={model}", wait_until="domcontentloaded")
    wait_for_status(page, "similar to")
    shot("results")
    page.get_by_role("tab", name="Compare methods").click()
    page.locator("#compare-b li.hf-card").first.wait_for()
    shot("compare")
    page.get_by_role("tab", name="Explore").click()
    page.locator("#catalog-map .js-plotly-plot").first.wait_for()
    page.wait_for_timeout(1500)  # the WebGL map draws after the element exists
    shot("explore")
    page.get_by_role("tab", name="About the data").click()
    page.locator("#about").get_by_text("The serving build").wait_for()
    page.wait_for_timeout(500)
    shot("about")
    page.get_by_role("tab", name="Results").click()
    box = page.get_by_label("…or describe what you need")
    box.fill("German speech recognition under 1B parameters")
    box.press("Enter")
    wait_for_status(page, "matching")
    shot("describe")
    picker = page.locator("#model-picker textarea, #model-picker input").first
    picker.fill("meta-llama/Llama-2-7b-chta-hf")
    picker.press("Enter")
    wait_for_status(page, "Did you mean")
    page.locator("#model-suggestions label").first.wait_for()
    shot("did-you-mean")
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="the UI to measure")
    parser.add_argument("--baseline-url", help="another UI serving the same API, measured the same way")
    parser.add_argument("--model", default="gpt2")
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--methods", default="bm25,cosine,fused,jaccard", help="switched between, in turn")
    parser.add_argument("--screenshots", type=Path, help="save every tab and state of --url's UI here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    report: dict[str, Any] = header("ui_render", smoke=False)
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        for label, url in (("this UI", args.url), ("baseline", args.baseline_url)):
            if not url:
                continue
            times = sorted(switch_times(page, url, args.model, args.switches, args.methods.split(",")))
            p50, p90 = statistics.median(times), times[int(0.9 * (len(times) - 1))]
            report[label] = {"url": url, "ms": times, "p50": p50, "p90": p90}
            rows.append([label, url, len(times), f"{p50:.0f}", f"{p90:.0f}", f"{times[-1]:.0f}"])
        if args.screenshots:
            report["screenshots"] = screenshots(page, args.url, args.model, args.screenshots)
        browser.close()
    title = "web UI: a method switch, from the press on the option to its results on screen"
    print_table(title, ["UI", "url", "switches", "p50 ms", "p90 ms", "max ms"], rows)
    verdict = "✓" if report["this UI"]["p50"] < TARGET_MS else "✗"
    print(f"target: a method switch shows its results in < {TARGET_MS:.0f} ms (p50): {verdict}")
    write_json(RESULTS / "ui_render.json", report)


if __name__ == "__main__":
    main()
