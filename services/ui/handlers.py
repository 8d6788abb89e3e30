"""What the web UI does, as plain functions over a :class:`~services.clients.RecommenderClient`.

Each handler calls the public API and turns its answer into result cards (:mod:`services.ui.cards`),
plotly figures and a short Markdown status line; nothing here ranks or filters (that is the API's job),
and nothing imports Gradio, so tests drive these functions directly against a live recommender.  Every
piece of text that comes from the catalog or the user is escaped before it reaches Markdown or HTML:
model ids and `why` strings are untrusted.
"""

from __future__ import annotations

import html
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import plotly.graph_objects as go
from plotly.colors import qualitative

from hfmrs.filters import FilterField, public_fields
from hfmrs.remote import model_path as api_path  # the id percent-encoded, '.' and '..' too
from services.clients import ApiCallError, RecommenderClient, ServiceUnavailableError
from services.ui.cards import cards_html, hub_url, plural, query_card

log = logging.getLogger(__name__)

K_MIN, K_MAX = 1, 30  # the UI's range; the API allows more, but a longer list is not readable here
MAP_POINTS = 5000
SUGGESTIONS_SHOWN = 3
MAX_LEGEND_GROUPS = 12  # map colours: the biggest groups get a colour each, the rest share "other"
WEBGL_FROM = 3000  # points; below this the map draws as SVG, which also works where WebGL is off
# A distinct colour for each of the 12 legend groups (plotly's default cycle has 10, so two groups shared a
# colour): Tableau 10 without its grey (grey is "other"), and three dark ones.
MAP_COLOURS = [*qualitative.T10[:9], "#7F3C8D", "#1F3A93", "#2F4F4F"]

# (label, API value): the sorts GET /v1/models/{id}/similar accepts.
SORTS: list[tuple[str, str]] = [
    ("score (best match first)", "score"),
    ("downloads ↓", "downloads-desc"),
    ("downloads ↑", "downloads-asc"),
    ("likes ↓", "likes"),
    ("recently updated", "recent"),
    ("trending (download growth)", "trending"),
    ("leaderboard score (LLMs)", "leaderboard"),
]
EMPTY_PICK = "Pick a model on the left (type to search; old ids such as `gpt2` work too) or describe what you need."

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")

T = TypeVar("T")


# -- formatting ------------------------------------------------------------------------------------------
def md_text(value: object) -> str:
    """Untrusted text made safe for Markdown: Markdown punctuation backslash-escaped, then HTML-escaped
    (in this order, so the entities HTML escaping makes are not broken by the Markdown pass)."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " "))


def model_link(model_id: str) -> str:
    """A Markdown link to the model's Hub page (id escaped, URL percent-encoded)."""
    return f"[{md_text(model_id)}]({hub_url(model_id)})"


def base_url(client: RecommenderClient) -> str:
    return str(client.client.base_url).rstrip("/")


def friendly_error(error: Exception, client: RecommenderClient, model_id: str | None = None) -> str:
    """The message a user sees for a failed API call (Markdown, escaped)."""
    url = md_text(base_url(client))
    if isinstance(error, ServiceUnavailableError):
        if error.__cause__ is None:  # it answered, with a server error
            return f"⚠️ The recommender API at {url} failed ({md_text(error)}). Try again in a moment."
        return (
            f"⚠️ The recommender API is unreachable at {url} ({type(error.__cause__).__name__}). "
            "Is it running? `make run` starts everything; `hfmrs serve recommender` starts the API alone."
        )
    if isinstance(error, ApiCallError):
        if error.code == "unknown_model":
            shown = ", ".join(md_text(s) for s in error.suggestions[:SUGGESTIONS_SHOWN])
            asked = md_text(model_id if model_id is not None else "")
            return f"Unknown model '{asked}'. Did you mean: {shown}?" if shown else f"Unknown model '{asked}'."
        if error.status == 503:
            return f"⚠️ The recommender at {url} is not ready: {md_text(error.message)}"
        return f"The recommender rejected the request: {md_text(error.message)}"
    raise error


def _guard(client: RecommenderClient, call: Callable[[], T], model_id: str | None = None) -> T | str:
    """Runs one API call; an API or connection error comes back as the user's message instead."""
    try:
        return call()
    except (ApiCallError, ServiceUnavailableError) as error:
        log.info("API call failed: %s", error)
        return friendly_error(error, client, model_id)


def _suggestions(client: RecommenderClient, call: Callable[[], T], model_id: str) -> tuple[T | str, list[str]]:
    """Like :func:`_guard`, and the ids an unknown model's "did you mean" offers (to click)."""
    try:
        return call(), []
    except ApiCallError as error:
        shown = error.suggestions[:SUGGESTIONS_SHOWN] if error.code == "unknown_model" else []
        log.info("API call failed: %s", error)
        return friendly_error(error, client, model_id), list(shown)
    except ServiceUnavailableError as error:
        log.info("API call failed: %s", error)
        return friendly_error(error, client, model_id), []


def _clamp_k(k: float | int | None) -> int:
    try:
        return max(K_MIN, min(K_MAX, int(k if k is not None else 10)))
    except (TypeError, ValueError):
        return 10


ANY = "any"  # a choice control's "no filter" value


def ui_fields() -> list[FilterField]:
    """The filter fields the web UI shows, in table order (hfmrs.filters.FIELDS: one control each)."""
    return [f for f in public_fields() if f.ui]


def filter_params(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The UI's filter values (field name -> control value) as API query parameters.  Blanks, zeros,
    "any" and a field's default mean no filter; numbers typed as text are read as numbers."""
    params: dict[str, Any] = {}
    for f in ui_fields():
        value = (values or {}).get(f.name)
        value = value.strip() if isinstance(value, str) else value
        if value in (None, "", ANY) or value == f.default:
            continue
        if f.type in (int, float):
            try:
                value = f.type(float(value))
            except (TypeError, ValueError, OverflowError):
                continue
            if value <= 0:  # every numeric filter's 0 means "any" in the UI
                continue
        params[f.name] = value
    return params


def _share(known: Mapping[str, int], fact: str) -> float | None:
    models = known.get("models") or 0
    return known[fact] / models if models and fact in known else None


def sort_choices(known: Mapping[str, int]) -> list[tuple[str, str]]:
    """The sorts, without "likes" when no model of the build has likes, saying how many have them when
    only some do (the rest follow in score order)."""
    share = _share(known, "likes")
    if share is None or share >= 0.995:
        return SORTS
    if known.get("likes", 0) == 0:
        return [(label, value) for label, value in SORTS if value != "likes"]
    return [(f"{label} (known for {share:.0%})" if value == "likes" else label, value) for label, value in SORTS]


def size_filter_help(f: FilterField, known: Mapping[str, int]) -> str:
    """A size filter's help, saying how many models it can see: models of unknown size never match."""
    share = _share(known, "size")
    if share is None or share >= 0.995:
        return f.help
    return f"Size known for {share:.0%} of models; the others are hidden by this filter."


def filters_text(params: Mapping[str, Any]) -> str:
    """The active filters, named as the UI labels them: ``task: text-generation, fits in 8 GB``."""
    labels = {f.name: f.label for f in ui_fields()}
    shown = []
    for name, value in params.items():
        if name not in labels:
            continue
        text = md_text(f"{value:g}" if isinstance(value, float) else value)
        label, unit = re.fullmatch(r"(.*?)\s*(?:\((.*)\))?", labels[name]).groups()  # "Fits in (GB)"
        shown.append(f"{label.lower()} {text} {unit}" if unit else f"{label.lower()}: {text}")
    return ", ".join(shown)


def notes_text(body: dict[str, Any]) -> str:
    """The API's notes on a list (models a size filter left out, partial sorts), as Markdown lines."""
    return "".join(f"\n\nℹ️ {md_text(note)}" for note in body.get("notes") or [])


def status_line(count: int, what: str, params: Mapping[str, Any], body: dict[str, Any]) -> str:
    """``10 models similar to gpt2 by **fused** · filters: task: text-generation`` and the API's notes."""
    active = filters_text(params)
    if not count:
        lead = f"No models {what}" + (f" with these filters ({active})." if active else ".")
        return lead + " Loosen a filter and try again." + notes_text(body)
    return f"{plural(count, 'model')} {what}" + (f" · filters: {active}" if active else "") + notes_text(body)


def query_facts(client: RecommenderClient, model_id: str) -> str:
    """The query model's card (HTML), or nothing when its facts cannot be read."""
    info = _guard(client, lambda: client.get(api_path(model_id)))
    return "" if isinstance(info, str) else query_card(info)


# -- results: by model and by description -----------------------------------------------------------------
@dataclass
class Results:
    html: str = ""  # the cards (services.ui.cards), empty when there is nothing to show
    message: str = ""  # the status line (Markdown)
    results: list[dict[str, Any]] = field(default_factory=list)  # the API's results, in order
    query: str | None = None  # the canonical id of the query model
    understood: dict[str, Any] = field(default_factory=dict)  # a search's reading of the text
    suggestions: list[str] = field(default_factory=list)  # "did you mean" ids for an unknown model

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.results]

    @property
    def ok(self) -> bool:
        return bool(self.results)


RELATIONS = [
    ("family and alternatives", "all"),
    ("family: base, fine-tunes, sizes, copies", "family"),
    ("alternatives: other models for the job", "alternatives"),
]


def suggest_models(client: RecommenderClient, prefix: str, limit: int = 20) -> list[str]:
    """Type-ahead: ids starting with ``prefix`` (most downloaded first); empty on any failure, since a
    picker that cannot suggest should still accept a typed id."""
    prefix = (prefix or "").strip()
    if not prefix:
        return []
    try:
        return [row["id"] for row in client.get("/v1/models", prefix=prefix[:200], limit=limit)]
    except (ApiCallError, ServiceUnavailableError) as error:
        log.info("autocomplete failed: %s", error)
        return []


def methods(client: RecommenderClient) -> list[dict[str, Any]] | str:
    """GET /v1/methods (name, description, default), or the error message."""
    return _guard(client, lambda: client.get("/v1/methods"))


def method_choices(client: RecommenderClient) -> tuple[list[tuple[str, str]], str | None, str]:
    """Dropdown choices ``(label, name)``, the default method and a message (empty when all went well)."""
    found = methods(client)
    if isinstance(found, str):
        return [], None, found
    choices = [(f"{m['name']} — {_short(m.get('description', ''))}", m["name"]) for m in found]
    default = next((m["name"] for m in found if m.get("default")), choices[0][1] if choices else None)
    return choices, default, ""


def _short(description: str, limit: int = 60) -> str:
    text = description.split(" (")[0].rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def recommend(
    client: RecommenderClient,
    model_id: str | None,
    method: str | None = None,
    k: float | int | None = 10,
    sort: str | None = "score",
    filters: Mapping[str, Any] | None = None,
    relation: str | None = "all",
) -> Results:
    """Models similar to ``model_id`` (any id the API accepts, legacy ones included); ``filters`` maps
    filter field names to the UI's values (see :func:`filter_params`); ``relation`` keeps the family,
    the alternatives or all."""
    model_id = (model_id or "").strip()
    if not model_id:
        return Results(message=EMPTY_PICK)
    given = filter_params(filters)
    params = {
        "k": _clamp_k(k),
        "method": method or None,
        "sort": sort or "score",
        "relation": relation if relation in ("family", "alternatives") else None,
        **given,
    }
    body, suggestions = _suggestions(client, lambda: client.get(api_path(model_id, "/similar"), **params), model_id)
    if isinstance(body, str):
        return Results(message=body, suggestions=suggestions)
    results, query, used = body["results"], body["query"], body["method"]
    alias = f" (asked for {md_text(model_id)})" if model_id != query else ""
    what = f"similar to {model_link(query)}{alias} by **{md_text(used)}**"
    header = query_facts(client, query)
    return Results(
        html=cards_html(results, used, header=header) if results else header,
        message=status_line(len(results), what, given, body),
        results=results,
        query=query,
    )


def describe(
    client: RecommenderClient,
    text: str | None,
    k: float | int | None = 10,
    sort: str | None = "score",
    filters: Mapping[str, Any] | None = None,
    ignore: Sequence[str] = (),
) -> Results:
    """Models matching a free-text description (GET /v1/search); ``ignore`` drops parts of what the API
    understood (the chips a user unticked)."""
    text = (text or "").strip()
    if not text:
        return Results(message="Describe what you need first, e.g. *small English speech recognition model*.")
    given = filter_params(filters)
    params: dict[str, Any] = {"q": text[:1000], "k": _clamp_k(k), "sort": sort or "score", **given}
    if ignore:
        params["ignore"] = list(ignore)
    body = _guard(client, lambda: client.get("/v1/search", **params))
    if isinstance(body, str):
        return Results(message=body)
    results, understood = body["results"], body.get("understood") or {}
    return Results(
        html=cards_html(results, body.get("method", ""), sections=False) if results else "",
        message=status_line(len(results), f"matching “{md_text(text[:200])}”", given, body),
        results=results,
        understood=understood,
    )


CHIP_NAMES = {"tasks": "task", "purposes": "for", "languages": "language", "domains": "domain"}


def understood_chips(understood: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the API understood, as (label, key) pairs for removable chips: ``("language: de", "languages")``.
    Purposes ride with tasks (dropping the task drops both), so they get no chip of their own."""
    labels = {f.name: f.label for f in public_fields()}
    chips = []
    for key, value in understood.items():
        if key == "purposes" and "tasks" in understood:
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if key == "size":
            label = "prefers small models"
        elif value is True:
            label = labels.get(key, key).lower()
        else:
            label = f"{CHIP_NAMES.get(key) or labels.get(key, key).lower()}: {shown}"
        chips.append((label[:80], key))
    return chips


# -- compare two methods ----------------------------------------------------------------------------------
@dataclass
class Comparison:
    html_a: str = ""
    html_b: str = ""
    message: str = ""
    ids_a: list[str] = field(default_factory=list)
    ids_b: list[str] = field(default_factory=list)

    @property
    def overlap(self) -> list[str]:
        other = set(self.ids_b)
        return [i for i in self.ids_a if i in other]


def compare(
    client: RecommenderClient,
    model_id: str | None,
    method_a: str | None,
    method_b: str | None,
    k: float | int | None = 10,
    sort: str | None = "score",
    filters: Mapping[str, Any] | None = None,
) -> Comparison:
    """The same model through two methods, side by side, and how much their lists overlap."""
    model_id = (model_id or "").strip()
    if not model_id:
        return Comparison(message=EMPTY_PICK)
    if not method_a or not method_b:
        return Comparison(message="Choose two methods to compare.")
    answers = []
    for method in (method_a, method_b):
        result = recommend(client, model_id, method, k, sort, filters)
        if result.query is None:  # unknown id, bad method or API down: the same message for both sides
            return Comparison(message=result.message)
        if not result.ok:
            return Comparison(message=f"**{md_text(method)}**: {result.message}")
        answers.append(result)
    a, b = answers
    ids_a, ids_b = a.ids, b.ids
    shared = [i for i in ids_a if i in set(ids_b)]
    union = len(set(ids_a) | set(ids_b))
    rank_b = {i: n for n, i in enumerate(ids_b, start=1)}
    listed = ", ".join(f"{md_text(i)} (#{ids_a.index(i) + 1} / #{rank_b[i]})" for i in shared)
    message = (
        f"**{md_text(method_a)}** and **{md_text(method_b)}** share {len(shared)} of their top {_clamp_k(k)} "
        f"for {model_link(a.query or model_id)} (Jaccard overlap {len(shared) / union if union else 0:.2f})."
    )
    if shared:
        message += f" In both (rank in each): {listed}."
    html_a = cards_html(a.results, method_a, sections=False, shared=set(shared), compact=True)
    html_b = cards_html(b.results, method_b, sections=False, shared=set(shared), compact=True)
    return Comparison(html_a=html_a, html_b=html_b, message=message, ids_a=ids_a, ids_b=ids_b)


# -- explore: the catalog map ------------------------------------------------------------------------------
@dataclass
class Exploration:
    figure: go.Figure | None = None
    message: str = ""
    points: list[dict[str, Any]] = field(default_factory=list)
    highlighted: list[str] = field(default_factory=list)  # the chosen model first, then its neighbours


def explore(
    client: RecommenderClient,
    model_id: str | None = None,
    method: str | None = None,
    k: float | int | None = 10,
    color_by: str = "task",
    limit: int = MAP_POINTS,
) -> Exploration:
    """The catalog's 2-D map (GET /v1/map), the chosen model and its neighbours highlighted."""
    color_by = color_by if color_by in ("task", "cluster") else "task"
    highlighted: list[str] = []
    notes: list[str] = []
    model_id = (model_id or "").strip()
    if model_id:
        near = recommend(client, model_id, method, k)
        if near.query is None:
            return Exploration(message=near.message)
        highlighted = [near.query, *near.ids]
    body = _guard(client, lambda: client.get("/v1/map", color_by=color_by, limit=limit, include=highlighted))
    if isinstance(body, str):
        return Exploration(message=body)
    points = body["points"]
    if not points:
        return Exploration(message="The catalog is empty: there is nothing to map yet.")
    if color_by == "cluster" and all(p.get("cluster") is None for p in points):
        notes.append("This build has no k-means clusters (build with training to get them); coloured by task.")
        color_by = "task"
    figure = map_figure(points, color_by, highlighted)
    shown = f"{len(points):,} of {body['total']:,} models" if body["total"] > len(points) else f"{len(points):,} models"
    what = (
        f" {model_link(highlighted[0])} (★) and its {len(highlighted) - 1} neighbours (◆) highlighted."
        if highlighted
        else " Pick a model to highlight it and its neighbours."
    )
    message = f"PCA map of {shown}, coloured by {color_by}.{what}"
    if notes:
        message += " " + " ".join(notes)
    return Exploration(figure=figure, message=message, points=points, highlighted=highlighted)


def _group(point: dict[str, Any], color_by: str) -> str:
    if color_by == "cluster":
        return f"cluster {point['cluster']}" if point.get("cluster") is not None else "no cluster"
    return point.get("pipeline_tag") or "no task"


def map_figure(points: Sequence[dict[str, Any]], color_by: str, highlighted: Sequence[str]) -> go.Figure:
    """One WebGL trace per colour group (the biggest groups; the rest as "other"), then the neighbours and
    the chosen model on top."""
    counts = Counter(_group(p, color_by) for p in points)
    named = {g for g, _ in counts.most_common(MAX_LEGEND_GROUPS)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        g = _group(p, color_by)
        groups.setdefault(g if g in named else "other", []).append(p)
    figure = go.Figure()
    scatter = go.Scattergl if len(points) >= WEBGL_FROM else go.Scatter
    for n, name in enumerate(sorted(groups, key=lambda g: (g == "other", -len(groups[g]), g))):
        members = groups[name]
        colour = "#9ca3af" if name == "other" else MAP_COLOURS[n % len(MAP_COLOURS)]
        figure.add_trace(
            scatter(
                x=[p["x"] for p in members],
                y=[p["y"] for p in members],
                mode="markers",
                name=html.escape(name),
                text=[html.escape(p["id"]) for p in members],
                hovertemplate="%{text}<extra>" + html.escape(name) + "</extra>",
                marker={"size": 5, "opacity": 0.55, "color": colour},
            )
        )
    by_id = {p["id"]: p for p in points}
    neighbours = [by_id[i] for i in highlighted[1:] if i in by_id]
    if neighbours:
        figure.add_trace(
            go.Scatter(
                x=[p["x"] for p in neighbours],
                y=[p["y"] for p in neighbours],
                mode="markers",
                name="neighbours",
                text=[html.escape(p["id"]) for p in neighbours],
                hovertemplate="%{text}<extra>neighbour</extra>",
                marker={"symbol": "diamond", "size": 11, "color": "#ff9d00", "line": {"width": 1.5, "color": "#000"}},
            )
        )
    if highlighted and highlighted[0] in by_id:
        chosen = by_id[highlighted[0]]
        figure.add_trace(
            go.Scatter(
                x=[chosen["x"]],
                y=[chosen["y"]],
                mode="markers+text",
                name=html.escape(chosen["id"]),
                text=[html.escape(chosen["id"])],
                textposition="top center",
                cliponaxis=False,  # the label may stick out of the plot area rather than be cut
                hovertemplate="%{text}<extra>chosen model</extra>",
                marker={"symbol": "star", "size": 18, "color": "#d62728", "line": {"width": 1.5, "color": "#000"}},
            )
        )
    figure.update_layout(
        height=620,
        margin={"l": 40, "r": 40, "t": 40, "b": 10},
        xaxis={"title": "PC 1", "zeroline": False},
        yaxis={"title": "PC 2", "zeroline": False},
        legend={"title": {"text": color_by}, "itemsizing": "constant"},
        template="plotly_white",
    )
    return figure


# -- about the data ------------------------------------------------------------------------------------------
@dataclass
class About:
    message: str
    images: list[str] = field(default_factory=list)  # report PNG paths
    # How many models of the build have a known size and likes (/health's coverage; empty when it is down).
    known: dict[str, int] = field(default_factory=dict)


def report_images(reports_dir: Path | None) -> list[str]:
    if reports_dir is None or not reports_dir.is_dir():
        return []
    # `hfmrs report` writes its figures under figures/; PNGs put in the folder itself show too.
    found = [*reports_dir.glob("*.png"), *reports_dir.glob("figures/*.png")]
    return [str(p) for p in sorted(found) if p.is_file()]


def about(client: RecommenderClient, reports_dir: Path | None = None) -> About:
    """Snapshot dates, catalog size, encoder and methods of the serving build, and the report's plots."""
    images = report_images(reports_dir)
    health = _guard(client, lambda: client.get("/health"))
    if isinstance(health, str):
        return About(message=health, images=images)
    known = dict(health.get("coverage") or {})
    found = methods(client)
    lines = [
        "### The serving build",
        f"- **Build**: {md_text(health.get('build_id', ''))}",
        f"- **Models**: {int(health.get('models', 0)):,}",
        f"- **Snapshots**: {', '.join(md_text(s) for s in health.get('snapshots', [])) or 'none'}",
        f"- **Encoder**: {md_text(health.get('encoder', ''))}",
        f"- **API**: {md_text(base_url(client))}",
        "",
        "### Methods",
    ]
    if isinstance(found, str):
        lines.append(", ".join(md_text(m) for m in health.get("methods", [])))
    else:
        lines += [
            f"- **{md_text(m['name'])}**{' (default)' if m.get('default') else ''}: {md_text(m.get('description', ''))}"
            for m in found
        ]
    lines += ["", "### Report"]
    if images:
        plots = "plot" if len(images) == 1 else "plots"
        lines.append(f"{len(images)} {plots} from `hfmrs report` ({md_text(reports_dir)}).")
    else:
        lines.append(
            "No report yet: `make run` writes one in the background on first start (about 30 s), or run "
            "`hfmrs report --out reports/`; then press Refresh."
        )
    return About(message="\n".join(lines), images=images, known=known)
