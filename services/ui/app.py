"""The web UI service: a Gradio app on FastAPI that talks to the recommender over HTTP only.

The layout lives here; what each control does lives in :mod:`services.ui.handlers` (plain functions
over a :class:`~services.clients.RecommenderClient`), so this module only wires components to handlers.
"""

from __future__ import annotations

import os

# Gradio must never phone home (usage analytics, version checks): set before gradio is imported.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pandas as pd
from fastapi import FastAPI

from hfmrs.filters import FilterField
from hfmrs.settings import Settings, get_settings
from services.clients import RecommenderClient
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


def filter_control(field: FilterField) -> gr.components.Component:
    """The control of one filter field, made from its declaration (hfmrs.filters.FIELDS)."""
    elem_id = "filter-" + field.name.replace("_", "-")
    if field.ui == "number":
        return gr.Number(label=field.label, info=field.help, value=0, minimum=0, elem_id=elem_id)
    if field.ui == "choice":
        values = [str(v) for v in field.suggestions]
        unit = " GB" if field.name.endswith("_gb") else ""
        choices = ([] if field.default is not None else [(handlers.ANY, handlers.ANY)]) + [
            (v + unit, v) for v in values
        ]
        value = str(field.default) if field.default is not None else handlers.ANY
        return gr.Dropdown(label=field.label, choices=choices, value=value, elem_id=elem_id)
    return gr.Dropdown(
        label=field.label,
        choices=[str(v) for v in field.suggestions],
        value=None,
        allow_custom_value=True,
        elem_id=elem_id,
    )


@dataclass
class Controls:
    """The left column: the model picker, method, k, sort, the filters (by field name) and the text box."""

    picker: gr.Dropdown
    method: gr.Dropdown
    k: gr.Slider
    sort: gr.Dropdown
    relation: gr.Radio
    filters: dict[str, gr.components.Component]
    go: gr.Button
    describe_box: gr.Textbox
    describe_go: gr.Button
    chips: gr.CheckboxGroup  # what the search understood; unticking one drops it (`ignore=`)
    chip_choices: gr.State  # the chips of the last new search, kept while some are unticked


def controls_column(choices: list[tuple[str, str]], default: str | None) -> Controls:
    picker = gr.Dropdown(
        label="Model",
        info="Type to search; old ids such as gpt2 work too.",
        choices=[],
        value=None,
        allow_custom_value=True,
        filterable=True,
        elem_id="model-picker",
    )
    method = gr.Dropdown(label="Algorithm", choices=choices, value=default, allow_custom_value=True, elem_id="method")
    k = gr.Slider(handlers.K_MIN, handlers.K_MAX, value=10, step=1, label="Number of recommendations")
    sort = gr.Dropdown(label="Sort by", choices=handlers.SORTS, value="score", elem_id="sort")
    relation = gr.Radio(label="Show", choices=handlers.RELATIONS, value="all", elem_id="relation")
    with gr.Accordion("Filters", open=False):
        filters = {f.name: filter_control(f) for f in handlers.ui_fields()}
    go = gr.Button("Recommend", variant="primary", elem_id="recommend")
    describe_box = gr.Textbox(
        label="…or describe what you need",
        placeholder="e.g. small English speech recognition model",
        lines=2,
        max_length=1000,
    )
    describe_go = gr.Button("Search by description")
    chips = gr.CheckboxGroup(
        label="Understood from your words (untick to drop)", choices=[], value=[], visible=False, elem_id="understood"
    )
    chip_choices = gr.State([])
    return Controls(picker, method, k, sort, relation, filters, go, describe_box, describe_go, chips, chip_choices)


def _dataframe(value: pd.DataFrame, datatypes: list[str], widths: list[str], label: str, elem_id: str) -> gr.Dataframe:
    return gr.Dataframe(
        value=value,
        datatype=datatypes,
        column_widths=widths,
        interactive=False,
        wrap=True,
        label=label,
        elem_id=elem_id,
    )


@dataclass
class Tabs:
    """The right column: status line, results, compare, explore and about tabs."""

    status: gr.Markdown
    table: gr.Dataframe
    alternatives: gr.Dataframe
    chart: gr.Plot
    compare_tab: gr.Tab
    method_a: gr.Dropdown
    method_b: gr.Dropdown
    compare_go: gr.Button
    overlap: gr.Markdown
    table_a: gr.Dataframe
    table_b: gr.Dataframe
    explore_tab: gr.Tab
    color_by: gr.Radio
    points: gr.Slider
    map_go: gr.Button
    map_status: gr.Markdown
    catalog_map: gr.Plot
    about_text: gr.Markdown
    gallery: gr.Gallery
    about_go: gr.Button


def result_tabs(choices: list[tuple[str, str]], default: str | None, other: str | None) -> Tabs:
    status = gr.Markdown(elem_id="status")
    with gr.Tabs():
        with gr.Tab("Results", id="results"):
            empty, types, widths = _table([], handlers.COLUMNS), handlers.DATATYPES, handlers.COLUMN_WIDTHS
            # Two sections: the model's family (lineage, sizes, copies), then other models for the same job.
            table = _dataframe(empty, types, widths, "Family: its base, fine-tunes, sizes and copies", "results-table")
            alternatives = _dataframe(empty, types, widths, "Alternatives: other models for the job", "alternatives")
            chart = gr.Plot(label="Scores", elem_id="score-chart")
        with gr.Tab("Compare methods", id="compare") as compare_tab:
            with gr.Row():
                method_a = gr.Dropdown(label="Method A", choices=choices, value=default, allow_custom_value=True)
                method_b = gr.Dropdown(label="Method B", choices=choices, value=other, allow_custom_value=True)
                compare_go = gr.Button("Compare")
            overlap = gr.Markdown(elem_id="overlap")
            with gr.Row():
                empty = _table([], handlers.COMPARE_COLUMNS)
                types, widths = handlers.COMPARE_DATATYPES, handlers.COMPARE_WIDTHS
                table_a = _dataframe(empty, types, widths, "Method A", "compare-a")
                table_b = _dataframe(empty, types, widths, "Method B", "compare-b")
        with gr.Tab("Explore", id="explore") as explore_tab:
            with gr.Row():
                color_by = gr.Radio(["task", "cluster"], value="task", label="Colour by")
                points = gr.Slider(500, 20_000, value=handlers.MAP_POINTS, step=500, label="Points")
                map_go = gr.Button("Draw map")
            map_status = gr.Markdown()
            catalog_map = gr.Plot(label="Catalog map (PCA of the text embeddings)", elem_id="catalog-map")
        with gr.Tab("About the data", id="about"):
            about_text = gr.Markdown(elem_id="about")
            gallery = gr.Gallery(label="Report", columns=2, height="auto", interactive=False)
            about_go = gr.Button("Refresh", size="sm")
    return Tabs(
        status, table, alternatives, chart, compare_tab, method_a, method_b, compare_go, overlap, table_a, table_b,
        explore_tab, color_by, points, map_go, map_status, catalog_map, about_text, gallery, about_go,
    )  # fmt: skip


class Actions:
    """What each event does: the handlers' answers shaped into component values.  Filter values arrive
    positionally, in the order of ``handlers.ui_fields()``."""

    def __init__(self, client: RecommenderClient, reports_dir: Path | None):
        self.client, self.reports_dir = client, reports_dir
        self.names = [f.name for f in handlers.ui_fields()]

    def _filters(self, values: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(self.names, values, strict=False))

    def results(self, result: handlers.Results, mode: str) -> tuple[Any, ...]:
        columns = handlers.COLUMNS
        if mode == "text":  # a search has no query model, so no family: one list
            return _table(result.rows, columns), _table([], columns), result.figure, result.message, mode
        family, others = result.section("family"), result.section("alternative")
        return _table(family, columns), _table(others, columns), result.figure, result.message, mode

    def recommend(
        self, model_id: str | None, method: str | None, k: float, sort: str | None, relation: str, *filters: Any
    ) -> tuple[Any, ...]:
        result = handlers.recommend(self.client, model_id, method, k, sort, self._filters(filters), relation)
        return self.results(result, "model")

    def describe(self, text: str | None, k: float, sort: str | None, *filters: Any) -> tuple[Any, ...]:
        """A new search: everything understood applies, and becomes the chips."""
        result = handlers.describe(self.client, text, k, sort, self._filters(filters))
        chips = handlers.understood_chips(result.understood)
        box = gr.CheckboxGroup(choices=chips, value=[key for _, key in chips], visible=bool(chips))
        return (*self.results(result, "text"), box, chips)

    def redescribe(
        self, text: str | None, ticked: list[str], chips: list[Any], k: float, sort: str | None, *filters: Any
    ) -> tuple[Any, ...]:
        """The same search without the chips the user unticked (the chips stay, to be ticked again)."""
        ignore = [key for _, key in chips or [] if key not in (ticked or [])]
        result = handlers.describe(self.client, text, k, sort, self._filters(filters), ignore=ignore)
        return self.results(result, "text")

    def controls(
        self, mode: str, model_id: str | None, text: str | None, ticked: list[str], chips: list[Any], *rest: Any
    ) -> tuple[Any, ...]:
        # A changed control re-runs whatever the user last asked for: a model's neighbours or a description.
        method, k, sort, relation, *filters = rest
        if mode == "text" and (text or "").strip():
            return self.redescribe(text, ticked, chips, k, sort, *filters)
        return self.recommend(model_id, method, k, sort, relation, *filters)

    def suggest(self, data: gr.KeyUpData) -> Any:
        return gr.Dropdown(choices=handlers.suggest_models(self.client, str(data.input_value or "")))

    def compare(self, model_id: str | None, a: str | None, b: str | None, k: float, sort: str | None, *filters: Any):
        result = handlers.compare(self.client, model_id, a, b, k, sort, self._filters(filters))
        columns = handlers.COMPARE_COLUMNS
        return _table(result.rows_a, columns), _table(result.rows_b, columns), result.message

    def explore(self, model_id: str | None, method: str | None, k: float, color_by: str, points: float):
        result = handlers.explore(self.client, model_id, method, k, color_by, int(points))
        return result.figure, result.message

    def about(self) -> tuple[Any, ...]:
        info = handlers.about(self.client, self.reports_dir)
        return info.message, info.images

    def load(self, request: gr.Request) -> tuple[Any, ...]:
        # ?model=<id> in the page URL pre-selects a model; setting the picker fires its change event.
        model = (request.query_params.get("model") or "").strip()[:200] if request else ""
        choices, default, problem = handlers.method_choices(self.client)
        other = next((name for _, name in choices if name != default), default)
        info = handlers.about(self.client, self.reports_dir)
        return (
            gr.Dropdown(choices=[model] if model else [], value=model or None),
            gr.Dropdown(choices=choices, value=default),
            gr.Dropdown(choices=choices, value=default),
            gr.Dropdown(choices=choices, value=other),
            problem or ("" if model else handlers.EMPTY_PICK),
            info.message,
            info.images,
        )


def wire(do: Actions, c: Controls, t: Tabs, demo: gr.Blocks) -> None:
    """Events: every one given an ``api_name`` or made private, so gradio_client (and tests) can call them."""
    mode = gr.State("model")
    filters = list(c.filters.values())
    results = [t.table, t.alternatives, t.chart, t.status, mode]
    c.picker.key_up(
        do.suggest,
        outputs=c.picker,
        api_name="suggest",
        show_progress="hidden",
        trigger_mode="always_last",
        queue=False,
    )
    recommend_inputs = [c.picker, c.method, c.k, c.sort, c.relation, *filters]
    c.picker.change(do.recommend, recommend_inputs, results, api_name="recommend")
    c.go.click(do.recommend, recommend_inputs, results, api_visibility="private")
    describe_inputs = [c.describe_box, c.k, c.sort, *filters]
    described = [*results, c.chips, c.chip_choices]
    c.describe_box.submit(do.describe, describe_inputs, described, api_name="describe")
    c.describe_go.click(do.describe, describe_inputs, described, api_visibility="private")
    chip_inputs = [c.describe_box, c.chips, c.chip_choices, c.k, c.sort, *filters]
    c.chips.input(do.redescribe, chip_inputs, results, api_visibility="private")
    control_inputs = [mode, c.picker, c.describe_box, c.chips, c.chip_choices, c.method, c.k, c.sort, c.relation]
    control_inputs += filters
    for control in (c.method, c.sort, c.relation, *filters):
        control.input(do.controls, control_inputs, results, api_visibility="private")
    c.k.release(do.controls, control_inputs, results, api_visibility="private")

    compare_inputs = [c.picker, t.method_a, t.method_b, c.k, c.sort, *filters]
    compare_outputs = [t.table_a, t.table_b, t.overlap]
    t.compare_go.click(do.compare, compare_inputs, compare_outputs, api_name="compare")
    t.compare_tab.select(do.compare, compare_inputs, compare_outputs, api_visibility="private")

    explore_inputs = [c.picker, c.method, c.k, t.color_by, t.points]
    explore_outputs = [t.catalog_map, t.map_status]
    t.map_go.click(do.explore, explore_inputs, explore_outputs, api_name="explore")
    t.explore_tab.select(do.explore, explore_inputs, explore_outputs, api_visibility="private")
    t.color_by.input(do.explore, explore_inputs, explore_outputs, api_visibility="private")

    t.about_go.click(do.about, None, [t.about_text, t.gallery], api_name="about")
    demo.load(
        do.load,
        None,
        [c.picker, c.method, t.method_a, t.method_b, t.status, t.about_text, t.gallery],
        api_visibility="private",
    )


def build_blocks(client: RecommenderClient, reports_dir: Path | None = None) -> gr.Blocks:
    """The Gradio layout: controls on the left, tabs on the right, the filters made from the field table.
    Methods come from the API (GET /v1/methods); the page load refreshes them, since a new build may add
    methods, and custom values are allowed so a method the API gained since is never rejected."""
    choices, default, _ = handlers.method_choices(client)
    other = next((name for _, name in choices if name != default), default)
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as demo:
        gr.Markdown(f"# {TITLE}\nPick a model to see the models most like it, compare methods and explore the Hub.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                controls = controls_column(choices, default)
            with gr.Column(scale=3):
                tabs = result_tabs(choices, default, other)
        wire(Actions(client, reports_dir), controls, tabs, demo)
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
