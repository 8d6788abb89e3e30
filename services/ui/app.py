"""The web UI service: a Gradio app on FastAPI that talks to the recommender over HTTP only.

The layout lives here; what each control does lives in :mod:`services.ui.handlers` (plain functions
over a :class:`~hfmrs.clients.RecommenderClient`), so this module only wires components to handlers.
"""

from __future__ import annotations

import os

# Gradio must never phone home (usage analytics, version checks): set before gradio is imported.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import logging
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pandas as pd
from fastapi import FastAPI

from hfmrs.clients import RecommenderClient
from hfmrs.settings import Settings, get_settings
from services.ui import handlers

log = logging.getLogger(__name__)

TITLE = "HFMRS — similar Hugging Face models"
# System fonts only: the default theme would fetch Google Fonts, and the UI must work offline.
THEME = gr.themes.Soft(
    primary_hue="orange",
    font=["ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=["ui-monospace", "monospace"],
)
CSS = """
#status { min-height: 2em; }
#results-table a, #compare-a a, #compare-b a { color: #c2410c; }
"""


def recommender_url(settings: Settings) -> str:
    return (settings.recommender_url or f"http://{settings.host}:{settings.recommender_port}").rstrip("/")


def _table(rows: list[list[Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def build_blocks(client: RecommenderClient, reports_dir: Path | None = None) -> gr.Blocks:
    """The Gradio layout, every event given an ``api_name`` so gradio_client (and tests) can call it."""
    empty_results = _table([], handlers.COLUMNS)
    # Methods come from the API (GET /v1/methods); the page load refreshes them, since a new build may add
    # methods.  Custom values are allowed so a method the API gained since is never rejected by the form.
    choices, default, _ = handlers.method_choices(client)
    other = next((name for _, name in choices if name != default), default)
    empty_compare = _table([], handlers.COMPARE_COLUMNS)

    def results_out(result: handlers.Results, mode: str) -> tuple[Any, ...]:
        return _table(result.rows, handlers.COLUMNS), result.figure, result.message, mode

    def on_recommend(
        model_id: str | None,
        method: str | None,
        k: float,
        sort: str | None,
        task: str | None,
        library: str | None,
        license: str | None,
        min_downloads: float | None,
        fits: str | None = None,
    ) -> tuple[Any, ...]:
        result = handlers.recommend(client, model_id, method, k, sort, task, library, license, min_downloads, fits)
        return results_out(result, "model")

    def on_describe(
        text: str | None,
        k: float,
        sort: str | None,
        task: str | None,
        library: str | None,
        license: str | None,
        min_downloads: float | None,
        fits: str | None = None,
    ) -> tuple[Any, ...]:
        result = handlers.describe(client, text, k, sort, task, library, license, min_downloads, fits)
        return results_out(result, "text")

    def on_controls(mode: str, model_id: str | None, text: str | None, *rest: Any) -> tuple[Any, ...]:
        # A changed control re-runs whatever the user last asked for: a model's neighbours or a description.
        method, k, sort, *filters = rest
        if mode == "text" and (text or "").strip():
            return on_describe(text, k, sort, *filters)
        return on_recommend(model_id, method, k, sort, *filters)

    def on_suggest(data: gr.KeyUpData) -> Any:
        return gr.Dropdown(choices=handlers.suggest_models(client, str(data.input_value or "")))

    def on_compare(
        model_id: str | None,
        method_a: str | None,
        method_b: str | None,
        k: float,
        sort: str | None,
        task: str | None,
        library: str | None,
        license: str | None,
        min_downloads: float | None,
        fits: str | None = None,
    ) -> tuple[Any, ...]:
        result = handlers.compare(
            client, model_id, method_a, method_b, k, sort, task, library, license, min_downloads, fits
        )
        return (
            _table(result.rows_a, handlers.COMPARE_COLUMNS),
            _table(result.rows_b, handlers.COMPARE_COLUMNS),
            result.message,
        )

    def on_explore(model_id: str | None, method: str | None, k: float, color_by: str, points: float) -> tuple[Any, ...]:
        result = handlers.explore(client, model_id, method, k, color_by, int(points))
        return result.figure, result.message

    def on_about() -> tuple[Any, ...]:
        info = handlers.about(client, reports_dir)
        return info.message, info.images

    def on_load(request: gr.Request) -> tuple[Any, ...]:
        # ?model=<id> in the page URL pre-selects a model; setting the picker fires its change event.
        model = (request.query_params.get("model") or "").strip()[:200] if request else ""
        choices, default, problem = handlers.method_choices(client)
        other = next((name for _, name in choices if name != default), default)
        info = handlers.about(client, reports_dir)
        return (
            gr.Dropdown(choices=[model] if model else [], value=model or None),
            gr.Dropdown(choices=choices, value=default),
            gr.Dropdown(choices=choices, value=default),
            gr.Dropdown(choices=choices, value=other),
            problem or ("" if model else handlers.EMPTY_PICK),
            info.message,
            info.images,
        )

    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as demo:
        gr.Markdown(f"# {TITLE}\nPick a model to see the models most like it, compare methods and explore the Hub.")
        mode = gr.State("model")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                picker = gr.Dropdown(
                    label="Model",
                    info="Type to search; old ids such as gpt2 work too.",
                    choices=[],
                    value=None,
                    allow_custom_value=True,
                    filterable=True,
                    elem_id="model-picker",
                )
                method = gr.Dropdown(
                    label="Algorithm", choices=choices, value=default, allow_custom_value=True, elem_id="method"
                )
                k = gr.Slider(handlers.K_MIN, handlers.K_MAX, value=10, step=1, label="Number of recommendations")
                sort = gr.Dropdown(label="Sort by", choices=handlers.SORTS, value="score", elem_id="sort")
                with gr.Accordion("Filters", open=False):
                    task = gr.Dropdown(
                        label="Task", choices=handlers.TASKS, value=None, allow_custom_value=True, elem_id="task"
                    )
                    library = gr.Dropdown(
                        label="Library", choices=handlers.LIBRARIES, value=None, allow_custom_value=True
                    )
                    license = gr.Dropdown(
                        label="License", choices=handlers.LICENSES, value=None, allow_custom_value=True
                    )
                    min_downloads = gr.Number(label="Minimum downloads", value=0, minimum=0, precision=0)
                    fits = gr.Dropdown(
                        label="Fits in memory (weights, parameter count known)",
                        choices=handlers.FITS_CHOICES,
                        value=handlers.FITS_ANY,
                    )
                go_button = gr.Button("Recommend", variant="primary", elem_id="recommend")
                describe_box = gr.Textbox(
                    label="…or describe what you need",
                    placeholder="e.g. small English speech recognition model",
                    lines=2,
                    max_length=1000,
                )
                describe_button = gr.Button("Search by description")
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id="status")
                with gr.Tabs():
                    with gr.Tab("Results", id="results"):
                        table = gr.Dataframe(
                            value=empty_results,
                            headers=handlers.COLUMNS,
                            datatype=handlers.DATATYPES,
                            column_widths=handlers.COLUMN_WIDTHS,
                            interactive=False,
                            wrap=True,
                            elem_id="results-table",
                            label="Recommendations",
                        )
                        chart = gr.Plot(label="Scores", elem_id="score-chart")
                    with gr.Tab("Compare methods", id="compare") as compare_tab:
                        with gr.Row():
                            method_a = gr.Dropdown(
                                label="Method A", choices=choices, value=default, allow_custom_value=True
                            )
                            method_b = gr.Dropdown(
                                label="Method B", choices=choices, value=other, allow_custom_value=True
                            )
                            compare_button = gr.Button("Compare")
                        overlap = gr.Markdown(elem_id="overlap")
                        with gr.Row():
                            table_a = gr.Dataframe(
                                value=empty_compare,
                                datatype=handlers.COMPARE_DATATYPES,
                                interactive=False,
                                wrap=True,
                                column_widths=handlers.COMPARE_WIDTHS,
                                label="Method A",
                                elem_id="compare-a",
                            )
                            table_b = gr.Dataframe(
                                value=empty_compare,
                                datatype=handlers.COMPARE_DATATYPES,
                                interactive=False,
                                wrap=True,
                                column_widths=handlers.COMPARE_WIDTHS,
                                label="Method B",
                                elem_id="compare-b",
                            )
                    with gr.Tab("Explore", id="explore") as explore_tab:
                        with gr.Row():
                            color_by = gr.Radio(["task", "cluster"], value="task", label="Colour by")
                            points = gr.Slider(500, 20_000, value=handlers.MAP_POINTS, step=500, label="Points")
                            map_button = gr.Button("Draw map")
                        map_status = gr.Markdown()
                        catalog_map = gr.Plot(label="Catalog map (PCA of the text embeddings)", elem_id="catalog-map")
                    with gr.Tab("About the data", id="about"):
                        about_text = gr.Markdown(elem_id="about")
                        gallery = gr.Gallery(label="Report", columns=2, height="auto", interactive=False)
                        about_button = gr.Button("Refresh", size="sm")

        filters = [task, library, license, min_downloads, fits]
        results = [table, chart, status, mode]

        picker.key_up(
            on_suggest,
            outputs=picker,
            api_name="suggest",
            show_progress="hidden",
            trigger_mode="always_last",
            queue=False,
        )
        recommend_inputs = [picker, method, k, sort, *filters]
        picker.change(on_recommend, recommend_inputs, results, api_name="recommend")
        go_button.click(on_recommend, recommend_inputs, results, api_visibility="private")
        describe_inputs = [describe_box, k, sort, *filters]
        describe_box.submit(on_describe, describe_inputs, results, api_name="describe")
        describe_button.click(on_describe, describe_inputs, results, api_visibility="private")
        control_inputs = [mode, picker, describe_box, method, k, sort, *filters]
        for control in (method, sort, task, library, license, fits):
            control.input(on_controls, control_inputs, results, api_visibility="private")
        k.release(on_controls, control_inputs, results, api_visibility="private")
        min_downloads.submit(on_controls, control_inputs, results, api_visibility="private")

        compare_inputs = [picker, method_a, method_b, k, sort, *filters]
        compare_outputs = [table_a, table_b, overlap]
        compare_button.click(on_compare, compare_inputs, compare_outputs, api_name="compare")
        compare_tab.select(on_compare, compare_inputs, compare_outputs, api_visibility="private")

        explore_inputs = [picker, method, k, color_by, points]
        map_button.click(on_explore, explore_inputs, [catalog_map, map_status], api_name="explore")
        explore_tab.select(on_explore, explore_inputs, [catalog_map, map_status], api_visibility="private")
        color_by.input(on_explore, explore_inputs, [catalog_map, map_status], api_visibility="private")

        about_button.click(on_about, None, [about_text, gallery], api_name="about")
        demo.load(
            on_load,
            None,
            [picker, method, method_a, method_b, status, about_text, gallery],
            api_visibility="private",
        )
    return demo


def create_app(settings: Settings | None = None, client: RecommenderClient | None = None) -> FastAPI:
    """The UI service: ``/`` is the Gradio app, ``/health`` says whether the recommender answers."""
    settings = settings or get_settings()
    url = recommender_url(settings)
    client = client or RecommenderClient.from_url(url)
    reports_dir = settings.reports_dir.resolve()
    app = FastAPI(title="HFMRS web UI", docs_url=None, redoc_url=None)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, Any]:
        # The UI itself is up whenever this answers; the recommender's state is reported, not required,
        # because the UI shows a friendly message while the API is down.
        try:
            upstream = client.client.get("/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            upstream = False
        return {"status": "ok", "service": "hfmrs-ui", "recommender": url, "recommender_ok": upstream}

    blocks = build_blocks(client, reports_dir)
    log.info("web UI talks to the recommender at %s", url)
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        footer_links=["api"],
        allowed_paths=[str(reports_dir)],
        ssr_mode=False,
        theme=THEME,
        css=CSS,
    )
