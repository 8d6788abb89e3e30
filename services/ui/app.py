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
from fastapi import FastAPI

from hfmrs.filters import FilterField
from hfmrs.remote import recommender_url
from hfmrs.settings import Settings, get_settings
from services.clients import RecommenderClient
from services.ui import cards, handlers

log = logging.getLogger(__name__)

TITLE = "HFMRS — similar Hugging Face models"
# System fonts only: the default theme would fetch Google Fonts, and the UI must work offline.
THEME = gr.themes.Soft(
    primary_hue="orange",
    font=["ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=["ui-monospace", "monospace"],
)
CSS = (
    """
#status { min-height: 2em; }
"""
    + cards.CSS
)


SUGGESTIONS_LABEL = "Matches: click one to pick it"


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

    picker: gr.Textbox
    suggestions: gr.Radio  # ids matching what is typed, or an unknown id's "did you mean": one click picks
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
    picker = gr.Textbox(
        label="Model",
        info="Type to search, then pick a match or press Enter; old ids such as gpt2 work too.",
        placeholder="e.g. openai-community/gpt2",
        max_length=200,
        lines=1,
        elem_id="model-picker",
    )
    # A plain list of matches rather than a dropdown with server-side choices: Gradio's dropdown re-filters
    # its options against the previous choices when new ones arrive, showing wrong ids and throwing.
    # One constant label: Gradio drops an update that changes the label of a component not yet shown.
    suggestions = gr.Radio(label=SUGGESTIONS_LABEL, choices=[], visible=False, elem_id="model-suggestions")
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
        lines=1,
        max_length=1000,
    )
    describe_go = gr.Button("Search by description")
    chips = gr.CheckboxGroup(
        label="Understood from your words (untick to drop)", choices=[], value=[], visible=False, elem_id="understood"
    )
    chip_choices = gr.State([])
    return Controls(
        picker, suggestions, method, k, sort, relation, filters, go, describe_box, describe_go, chips, chip_choices
    )


@dataclass
class Tabs:
    """The right column: status line, "did you mean", and the results, compare, explore and about tabs."""

    status: gr.Markdown
    results: gr.HTML
    compare_tab: gr.Tab
    method_a: gr.Dropdown
    method_b: gr.Dropdown
    compare_go: gr.Button
    overlap: gr.Markdown
    list_a: gr.HTML
    list_b: gr.HTML
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
    status = gr.Markdown(handlers.EMPTY_PICK, elem_id="status")
    with gr.Tabs():
        with gr.Tab("Results", id="results"):
            # Cards in two sections: the model's family (lineage, sizes, copies), then the alternatives.
            results = gr.HTML(elem_id="results")
        with gr.Tab("Compare methods", id="compare") as compare_tab:
            with gr.Row():
                method_a = gr.Dropdown(label="Method A", choices=choices, value=default, allow_custom_value=True)
                method_b = gr.Dropdown(label="Method B", choices=choices, value=other, allow_custom_value=True)
                compare_go = gr.Button("Compare")
            overlap = gr.Markdown(elem_id="overlap")
            with gr.Row():
                list_a = gr.HTML(elem_id="compare-a")
                list_b = gr.HTML(elem_id="compare-b")
        with gr.Tab("Explore", id="explore") as explore_tab:
            with gr.Row():
                color_by = gr.Radio(["task", "cluster"], value="task", label="Colour by")
                points = gr.Slider(500, 20_000, value=handlers.MAP_POINTS, step=500, label="Points")
                map_go = gr.Button("Draw map")
            map_status = gr.Markdown()
            catalog_map = gr.Plot(label="Catalog map (PCA of the text embeddings)", elem_id="catalog-map")
        with gr.Tab("About the data", id="about"):
            about_text = gr.Markdown(elem_id="about")
            gallery = gr.Gallery(label="Report", columns=2, height="auto", interactive=False, elem_id="report")
            about_go = gr.Button("Refresh", size="sm")
    return Tabs(
        status, results, compare_tab, method_a, method_b, compare_go, overlap, list_a, list_b,
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
        suggestions = gr.Radio(choices=result.suggestions, value=None, visible=bool(result.suggestions))
        return result.html, result.message, mode, suggestions

    def recommend(
        self, model_id: str | None, method: str | None, k: float, sort: str | None, relation: str, *filters: Any
    ) -> tuple[Any, ...]:
        result = handlers.recommend(self.client, model_id, method, k, sort, self._filters(filters), relation)
        return self.results(result, "model")

    def preselected(self, model_id: str | None, *rest: Any) -> tuple[Any, ...]:
        """After the page load: the neighbours of a model given by ?model=, else nothing changes."""
        if not (model_id or "").strip():
            return gr.update(), gr.update(), gr.update(), gr.update()
        return self.recommend(model_id, *rest)

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

    def suggest(self, typed: str | None) -> Any:
        """The ids starting with what is typed (most downloaded first), as one-click choices."""
        typed = str(typed or "")
        found = handlers.suggest_models(self.client, typed, limit=8)
        if typed.strip() and not found:
            # Nothing starts with it: the last matches stay (near misses still help), and an answer that
            # arrives after Enter must not hide that request's "did you mean".
            return gr.update()
        return gr.Radio(choices=found, value=None, visible=bool(found))

    def compare(self, model_id: str | None, a: str | None, b: str | None, k: float, sort: str | None, *filters: Any):
        result = handlers.compare(self.client, model_id, a, b, k, sort, self._filters(filters))
        return result.html_a, result.html_b, result.message

    def explore(self, model_id: str | None, method: str | None, k: float, color_by: str, points: float):
        result = handlers.explore(self.client, model_id, method, k, color_by, int(points))
        return result.figure, result.message

    def about(self) -> tuple[Any, ...]:
        info = handlers.about(self.client, self.reports_dir)
        return info.message, info.images

    def load(self, request: gr.Request) -> tuple[Any, ...]:
        # ?model=<id> in the page URL pre-selects a model (recommended right after, see wire).
        model = (request.query_params.get("model") or "").strip()[:200] if request else ""
        choices, default, problem = handlers.method_choices(self.client)
        other = next((name for _, name in choices if name != default), default)
        info = handlers.about(self.client, self.reports_dir)
        known = info.known  # which facts the build has: the likes sort, the size filters' help
        sizes = [gr.update(info=handlers.size_filter_help(f, known)) for f in handlers.ui_fields() if f.reads_size]
        # Without ?model= the picker and the status are left alone: a user may have typed already.
        return (
            model or gr.update(),
            gr.Dropdown(choices=choices, value=default),
            gr.Dropdown(choices=choices, value=default),
            gr.Dropdown(choices=choices, value=other),
            problem or gr.update(),
            info.message,
            info.images,
            gr.Dropdown(choices=handlers.sort_choices(known)),
            *sizes,
        )


def wire(do: Actions, c: Controls, t: Tabs, demo: gr.Blocks) -> None:
    """Events: every one given an ``api_name`` or made private, so gradio_client (and tests) can call them.
    Result events skip Gradio's queue: each is one quick API call, and the queue's round trips would be
    most of the time a method switch takes."""
    mode = gr.State("model")
    filters = list(c.filters.values())
    results = [t.results, t.status, mode, c.suggestions]
    fast: dict[str, Any] = {"queue": False, "show_progress": "minimal"}
    # Queued, so that Enter can cancel a type-ahead answer still on its way (it would hide "did you mean").
    typed = c.picker.input(
        do.suggest, c.picker, c.suggestions, api_name="suggest", show_progress="hidden", trigger_mode="always_last"
    )
    recommend_inputs = [c.picker, c.method, c.k, c.sort, c.relation, *filters]
    c.picker.submit(do.recommend, recommend_inputs, results, api_name="recommend", cancels=[typed], **fast)
    c.go.click(do.recommend, recommend_inputs, results, api_visibility="private", **fast)
    # A match or suggestion clicked becomes the picked model, and is recommended for.
    c.suggestions.input(lambda chosen: chosen, c.suggestions, c.picker, api_visibility="private", queue=False).then(
        do.recommend, recommend_inputs, results, api_visibility="private", **fast
    )
    describe_inputs = [c.describe_box, c.k, c.sort, *filters]
    described = [*results, c.chips, c.chip_choices]
    c.describe_box.submit(do.describe, describe_inputs, described, api_name="describe", **fast)
    c.describe_go.click(do.describe, describe_inputs, described, api_visibility="private", **fast)
    chip_inputs = [c.describe_box, c.chips, c.chip_choices, c.k, c.sort, *filters]
    c.chips.input(do.redescribe, chip_inputs, results, api_visibility="private", **fast)
    control_inputs = [mode, c.picker, c.describe_box, c.chips, c.chip_choices, c.method, c.k, c.sort, c.relation]
    control_inputs += filters
    for control in (c.method, c.sort, c.relation, *filters):
        control.input(do.controls, control_inputs, results, api_visibility="private", **fast)
    for control in filters:  # Enter in a number box
        if isinstance(control, gr.Number):
            control.submit(do.controls, control_inputs, results, api_visibility="private", **fast)
    # The slider's change: a drag's release and a number typed into its box (Enter or leaving it); while
    # dragging, only the last value is asked for.
    c.k.change(do.controls, control_inputs, results, api_visibility="private", trigger_mode="always_last", **fast)

    compare_inputs = [c.picker, t.method_a, t.method_b, c.k, c.sort, *filters]
    compare_outputs = [t.list_a, t.list_b, t.overlap]
    t.compare_go.click(do.compare, compare_inputs, compare_outputs, api_name="compare", **fast)
    t.compare_tab.select(do.compare, compare_inputs, compare_outputs, api_visibility="private", **fast)

    explore_inputs = [c.picker, c.method, c.k, t.color_by, t.points]
    explore_outputs = [t.catalog_map, t.map_status]
    t.map_go.click(do.explore, explore_inputs, explore_outputs, api_name="explore")
    t.explore_tab.select(do.explore, explore_inputs, explore_outputs, api_visibility="private")
    t.color_by.input(do.explore, explore_inputs, explore_outputs, api_visibility="private")

    t.about_go.click(do.about, None, [t.about_text, t.gallery], api_name="about")
    sizes = [c.filters[f.name] for f in handlers.ui_fields() if f.reads_size]
    loaded = [c.picker, c.method, t.method_a, t.method_b, t.status, t.about_text, t.gallery, c.sort, *sizes]
    demo.load(do.load, None, loaded, api_visibility="private").then(
        do.preselected, recommend_inputs, results, api_visibility="private", **fast
    )


def build_blocks(client: RecommenderClient, reports_dir: Path | None = None) -> gr.Blocks:
    """The Gradio layout: controls on the left, tabs on the right, the filters made from the field table.
    Methods come from the API (GET /v1/methods); the page load refreshes them, since a new build may add
    methods, and custom values are allowed so a method the API gained since is never rejected."""
    choices, default, _ = handlers.method_choices(client)
    other = next((name for _, name in choices if name != default), default)
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as demo:
        gr.Markdown(
            f"# {TITLE}\nPick a model on the left to see its family and the alternatives a practitioner would "
            "weigh, or describe what you need; compare methods and explore the Hub."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                controls = controls_column(choices, default)
            with gr.Column(scale=3):
                tabs = result_tabs(choices, default, other)
        wire(Actions(client, reports_dir), controls, tabs, demo)
    return demo


def visitor_address() -> str | None:
    """The address of the visitor whose event is running (None outside an event): Gradio keeps the
    event's request in a context variable while its function runs."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or None


def create_app(settings: Settings | None = None, client: RecommenderClient | None = None) -> FastAPI:
    """The UI service: ``/`` is the Gradio app, ``/health`` says whether the recommender answers."""
    settings = settings or get_settings()
    url = recommender_url(settings)
    client = client or RecommenderClient.from_url(url, end_user=visitor_address)
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
