"""``hfmrs report``: the seed's EDA and cluster analysis as a real report.

Everything is computed from the catalog (snapshots), the lineage edges and the text vectors of the
soups (the same vectors the build serves: looked up in the vector cache by soup hash, so the encoder
is only loaded for soups the cache lacks).  Each figure is drawn twice from the same data: a
matplotlib PNG (Agg backend; what the UI's "about the data" tab shows) and a plotly figure for one
self-contained ``report.html`` (plotly.js inlined once, so it opens offline).  ``report.json`` indexes
the figures and holds the summary numbers.

Clustering: training's own k-means sweep (:mod:`hfmrs.training.kmeans`, the Ks of the HFMRS_KMEANS_*
settings): inertia (elbow), silhouette (on a seeded sample: no N×N distance matrix), Davies-Bouldin
and Calinski-Harabasz for each K, and K chosen by the same rule the build uses (the serving build's K
is noted beside it).  PCA over TF-IDF of the soup terms gives explained variance and the
terms that load most on each component; a 2-D PCA of the text vectors maps the clusters.
"""

from __future__ import annotations

import html
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hfmrs.catalog import Catalog
from hfmrs.embedding import Encoder, VectorCache
from hfmrs.features import soup, soup_hash
from hfmrs.lineage import Edge, lineage_edges, split_lineage
from hfmrs.settings import Settings
from hfmrs.sources import open_catalog

log = logging.getLogger(__name__)

MAP_POINTS = 5000  # points drawn in the 2-D cluster map (the HTML stays small)


@dataclass
class Figure:
    name: str
    title: str
    section: str
    png: Path
    plotly: Any = None
    note: str = ""


@dataclass
class ReportResult:
    html: Path
    figures_dir: Path
    figures: list[Figure] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Figure helpers: one function per chart kind, each drawing the PNG and the plotly figure


class Drawer:
    def __init__(self, figures_dir: Path):
        import matplotlib

        matplotlib.use("Agg")  # no display: files only
        self.dir = figures_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.figures: list[Figure] = []

    def _save(self, fig: Any, name: str, title: str, section: str, plotly_fig: Any, note: str = "") -> None:
        import matplotlib.pyplot as plt

        path = self.dir / f"{name}.png"
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        plotly_fig.update_layout(title=title, template="plotly_white", margin={"l": 60, "r": 20, "t": 60, "b": 60})
        self.figures.append(Figure(name, title, section, path, plotly_fig, note))

    def bar(
        self,
        name: str,
        title: str,
        section: str,
        labels: Sequence[str],
        values: Sequence[float],
        xlabel: str = "models",
        log_x: bool = False,
        note: str = "",
    ) -> None:
        import matplotlib.pyplot as plt
        import plotly.graph_objects as go

        labels, values = list(labels)[::-1], list(values)[::-1]  # largest on top
        fig, ax = plt.subplots(figsize=(8, max(3.0, 0.28 * len(labels) + 1)))
        ax.barh(labels, values, color="#4c72b0")
        ax.set_xlabel(xlabel)
        if log_x:
            ax.set_xscale("log")
        pfig = go.Figure(go.Bar(x=values, y=labels, orientation="h"))
        pfig.update_layout(xaxis_title=xlabel, height=max(350, 22 * len(labels) + 120))
        if log_x:
            pfig.update_xaxes(type="log")
        self._save(fig, name, title, section, pfig, note)

    def box(self, name: str, title: str, section: str, groups: dict[str, Sequence[float]], ylabel: str) -> None:
        import matplotlib.pyplot as plt
        import plotly.graph_objects as go

        fig, ax = plt.subplots(figsize=(10, 5))
        ax.boxplot(list(groups.values()), showfliers=False)
        ax.set_xticks(range(1, len(groups) + 1), list(groups), rotation=60, ha="right")
        ax.set_ylabel(ylabel)
        pfig = go.Figure([go.Box(y=list(v), name=k, boxpoints=False) for k, v in groups.items()])
        pfig.update_layout(yaxis_title=ylabel, showlegend=False)
        self._save(fig, name, title, section, pfig)

    def heatmap(
        self, name: str, title: str, section: str, matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str]
    ) -> None:
        import matplotlib.pyplot as plt
        import plotly.graph_objects as go

        shown = np.log10(1 + matrix)  # counts span orders of magnitude
        fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(cols) + 3), max(4, 0.4 * len(rows) + 2)))
        image = ax.imshow(shown, aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                ax.text(j, i, str(int(count)), ha="center", va="center", fontsize=6, color="white")
        fig.colorbar(image, ax=ax, label="log10(1 + models)")
        pfig = go.Figure(
            go.Heatmap(
                z=shown,
                x=list(cols),
                y=list(rows),
                text=matrix.astype(int),
                texttemplate="%{text}",
                colorbar={"title": "log10(1+n)"},
            )
        )
        pfig.update_layout(height=max(400, 28 * len(rows) + 200))
        self._save(fig, name, title, section, pfig)

    def hist(self, name: str, title: str, section: str, values: np.ndarray, xlabel: str, bins: int = 40) -> None:
        import matplotlib.pyplot as plt
        import plotly.graph_objects as go

        fig, ax = plt.subplots(figsize=(8, 4))
        ax.hist(values, bins=bins, color="#4c72b0")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("models")
        pfig = go.Figure(go.Histogram(x=values, nbinsx=bins))
        pfig.update_layout(xaxis_title=xlabel, yaxis_title="models")
        self._save(fig, name, title, section, pfig)

    def lines(
        self,
        name: str,
        title: str,
        section: str,
        x: Sequence[float],
        series: dict[str, Sequence[float]],
        xlabel: str,
        marker: float | None = None,
        note: str = "",
    ) -> None:
        import matplotlib.pyplot as plt
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.8), squeeze=False)
        pfig = make_subplots(rows=1, cols=len(series), subplot_titles=list(series))
        for i, (label, ys) in enumerate(series.items()):
            ax = axes[0][i]
            ax.plot(x, ys, marker="o")
            ax.set_title(label)
            ax.set_xlabel(xlabel)
            if marker is not None:
                ax.axvline(marker, color="red", linestyle="--", linewidth=1)
            pfig.add_trace(go.Scatter(x=list(x), y=list(ys), mode="lines+markers", name=label), row=1, col=i + 1)
            if marker is not None:
                pfig.add_vline(x=marker, line_dash="dash", line_color="red", row=1, col=i + 1)
        pfig.update_layout(showlegend=False)
        self._save(fig, name, title, section, pfig, note)


# --------------------------------------------------------------------------------------------------
# Data


def catalog_frame(catalog: Catalog) -> Any:
    import pandas as pd

    rows = [
        {
            "id": r.id,
            "task": r.pipeline_tag or "(none)",
            "library": r.library or "(none)",
            "model_type": r.model_type or "(none)",
            "architectures": r.architectures,
            "languages": r.languages,
            "license": r.license or "(none)",
            "downloads": r.downloads,
            "snapshot": r.snapshot,
        }
        for r in catalog
    ]
    return pd.DataFrame(rows)


def soup_vectors(
    catalog: Catalog, settings: Settings, encoder: Encoder | None, encoder_factory: Callable[[], Encoder] | None
) -> tuple[list[str], np.ndarray, list[str], str]:
    """(ids, unit text vectors, soups, encoder name): cached vectors first, the encoder only for the rest."""
    records = sorted(catalog, key=lambda r: r.id)
    soups = [soup(r) for r in records]
    hashes = [soup_hash(s) for s in soups]
    name = encoder.name if encoder is not None else _serving_encoder_name(settings)
    found: dict[str, np.ndarray] = {}
    missing = hashes
    cache = None
    if name:
        cache = VectorCache(name, settings.home / "cache" / "vectors", [settings.vector_cache])
        found, missing = cache.get_many(hashes)
    if missing:
        if encoder is None:
            if encoder_factory is None:
                raise ValueError("no encoder to embed soups the vector cache lacks")
            encoder = encoder_factory()
        if cache is None or cache.encoder_name != encoder.name:
            cache = VectorCache(encoder.name, settings.home / "cache" / "vectors", [settings.vector_cache])
            found, missing = cache.get_many(hashes)
        by_hash = {h: s for h, s in zip(hashes, soups, strict=True) if h in set(missing)}
        if by_hash:
            fresh = encoder.encode(list(by_hash.values()), show_progress=False)
            found.update(zip(by_hash, fresh, strict=True))
            cache.put_many(list(by_hash), fresh)
            cache.save()
        name = encoder.name
    matrix = np.stack([found[h] for h in hashes]).astype(np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return [r.id for r in records], matrix, soups, name or ""


def _serving_manifest(settings: Settings) -> dict[str, Any]:
    from hfmrs.store.builds import open_builds

    try:
        builds = open_builds(settings)
        current = builds.current_id()
        return builds.manifest(current) if current else {}
    except Exception as error:  # a report must not need a build; it only borrows from one
        log.debug("no serving manifest: %s", error)
        return {}


def _serving_encoder_name(settings: Settings) -> str | None:
    return _serving_manifest(settings).get("encoder")


# --------------------------------------------------------------------------------------------------
# Sections


def eda(draw: Drawer, frame: Any) -> dict[str, Any]:
    section = "Catalog"
    tasks = frame["task"].value_counts().head(30)
    draw.bar("models_per_task", "Models per task (pipeline tag)", section, tasks.index, tasks.values)
    libs = frame["library"].value_counts().head(25)
    draw.bar("models_per_library", "Models per library", section, libs.index, libs.values)

    log_dl = np.log10(1 + frame["downloads"].to_numpy(dtype=np.float64))
    frame = frame.assign(log_downloads=log_dl)
    types = [t for t in frame["model_type"].value_counts().index if t != "(none)"][:20]
    draw.box(
        "downloads_by_model_type",
        "Downloads by model type (20 most common types)",
        section,
        {t: frame.loc[frame["model_type"] == t, "log_downloads"].to_numpy() for t in types},
        "log10(1 + downloads)",
    )
    arch = frame[["architectures", "log_downloads"]].explode("architectures").dropna()
    archs = list(arch["architectures"].value_counts().index[:20])
    draw.box(
        "downloads_by_architecture",
        "Downloads by architecture (20 most common classes)",
        section,
        {a: arch.loc[arch["architectures"] == a, "log_downloads"].to_numpy() for a in archs},
        "log10(1 + downloads)",
    )
    top_libs = [x for x in frame["library"].value_counts().index if x != "(none)"][:15]
    top_tasks = [x for x in frame["task"].value_counts().index if x != "(none)"][:20]
    table = frame[frame["library"].isin(top_libs) & frame["task"].isin(top_tasks)]
    counts = table.groupby(["library", "task"]).size()
    matrix = np.array([[int(counts.get((lib, t), 0)) for t in top_tasks] for lib in top_libs])
    draw.heatmap("library_task_heatmap", "Library × task (models)", section, matrix, top_libs, top_tasks)
    draw.hist(
        "downloads_distribution", "Downloads distribution (log scale)", section, log_dl, "log10(1 + downloads)", 50
    )
    langs = frame["languages"].explode().dropna().value_counts().head(25)
    no_lang = int((frame["languages"].str.len() == 0).sum())
    draw.bar(
        "languages",
        "Languages (25 most common)",
        section,
        langs.index,
        langs.values,
        note=f"{no_lang:,} models declare no language.",
    )
    lic = frame["license"].value_counts().head(20)
    draw.bar("licenses", "Licenses (20 most common)", section, lic.index, lic.values)
    return {
        "models": len(frame),
        "snapshots": frame["snapshot"].value_counts().to_dict(),
        "tasks": int(frame["task"].nunique()),
        "libraries": int(frame["library"].nunique()),
        "models_without_task": int((frame["task"] == "(none)").sum()),
        "models_without_language": no_lang,
        "downloads_median": float(frame["downloads"].median()),
        "downloads_total": int(frame["downloads"].sum()),
    }


def lineage_section(draw: Drawer, catalog: Catalog, edges: Sequence[Edge]) -> dict[str, Any]:
    section = "Lineage"
    split = split_lineage(edges)
    by = Counter((e.relation, e.source) for e in edges)
    labels = [f"{rel} ({src})" for (rel, src), _ in by.most_common()]
    draw.bar("lineage_edges", "Lineage edges by relation (source)", section, labels, [n for _, n in by.most_common()])
    children = Counter(e.parent for e in edges)
    if children:
        top = children.most_common(20)
        draw.bar(
            "lineage_top_parents",
            "Most derived-from base models (children in the catalog)",
            section,
            [p for p, _ in top],
            [n for _, n in top],
            xlabel="children",
        )
        draw.hist(
            "lineage_children_per_parent",
            "Children per parent (log10)",
            section,
            np.log10(np.array(list(children.values()), dtype=np.float64)),
            "log10(children)",
            20,
        )
    nodes = {e.child for e in edges} | {e.parent for e in edges}
    return {
        "edges": len(edges),
        "train_edges": len(split.train),
        "test_edges": len(split.test),
        "parents": len(children),
        "children": len({e.child for e in edges}),
        "models_with_lineage": len(nodes),
        "share_with_lineage": round(len(nodes) / max(len(catalog), 1), 4),
        "by_relation": dict(Counter(e.relation for e in edges)),
        "by_source": dict(Counter(e.source for e in edges)),
    }


def clustering_section(
    draw: Drawer,
    ids: Sequence[str],
    matrix: np.ndarray,
    soups: Sequence[str],
    frame: Any,
    settings: Settings,
    seed: int,
    manifest_k: int | None,
) -> dict[str, Any]:
    """Training's own k-means sweep (:func:`hfmrs.training.kmeans.fit_kmeans`: the same Ks, criteria and
    rule as the build), drawn: elbow, the four criteria over K, silhouettes, terms and the cluster map."""
    from sklearn.metrics import silhouette_samples

    from hfmrs.training.kmeans import fit_kmeans

    section = "Clusters"
    if len(ids) < 3:
        log.warning("too few models (%d) to cluster", len(ids))
        return {"k": None}
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    km = fit_kmeans(
        unit, settings.kmeans_k_min, settings.kmeans_k_max, settings.kmeans_k_step, settings.kmeans_sample, seed
    )
    curve, chosen, labels = km.summary["curve"], km.k, km.labels
    ks = [int(c["k"]) for c in curve]
    serving = "" if manifest_k is None else f"; the serving build chose K = {manifest_k}"
    _draw_curves(draw, section, ks, curve, chosen, km.summary.get("silhouette_sample", 0), serving)
    picks = np.sort(
        np.random.default_rng(seed).choice(len(ids), size=min(settings.kmeans_sample, len(ids)), replace=False)
    )
    _silhouette_plot(draw, section, unit[picks], labels[picks], chosen, silhouette_samples)
    _pca_terms(draw, section, soups, seed)
    _cluster_map(draw, section, matrix, labels, frame, ids, np.random.default_rng(seed))
    tasks = dict(zip(frame["id"], frame["task"], strict=True))
    libs = dict(zip(frame["id"], frame["library"], strict=True))
    profiles = []
    for c in range(chosen):
        members = [ids[i] for i in np.flatnonzero(labels == c)]
        profiles.append(
            {
                "cluster": c,
                "size": len(members),
                "top_tasks": Counter(tasks[m] for m in members).most_common(3),
                "top_libraries": Counter(libs[m] for m in members).most_common(3),
            }
        )
    return {"k": chosen, "k_choice": km.summary.get("rule", ""), "curve": curve, "profiles": profiles}


def _draw_curves(
    draw: Drawer, section: str, ks: list[int], curve: list[dict[str, Any]], chosen: int, sample: int, serving: str
) -> None:
    draw.lines(
        "elbow",
        "Elbow curve (K-means inertia over K)",
        section,
        ks,
        {"inertia": [c["inertia"] for c in curve]},
        "K",
        chosen,
    )
    draw.lines(
        "cluster_scores",
        "Cluster quality over K",
        section,
        ks,
        {
            "silhouette (higher better)": [c["silhouette"] for c in curve],
            "Davies-Bouldin (lower better)": [c["davies_bouldin"] for c in curve],
            "Calinski-Harabasz (higher better)": [c["calinski_harabasz"] for c in curve],
        },
        "K",
        chosen,
        note=f"Chosen K = {chosen} (training's rule: best mean rank over the four criteria{serving}); "
        f"silhouette on a seeded sample of {sample:,} models.",
    )


def _silhouette_plot(
    draw: Drawer, section: str, points: np.ndarray, labels: np.ndarray, k: int, silhouette_samples: Any
) -> None:
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    if len(set(labels)) < 2 or len(set(labels)) >= len(labels):
        return
    values = silhouette_samples(points, labels)
    fig, ax = plt.subplots(figsize=(7, 6))
    pfig = go.Figure()
    y = 0
    cmap = plt.get_cmap("tab20")
    for c in range(k):
        v = np.sort(values[labels == c])
        if not len(v):
            continue
        ax.fill_betweenx(np.arange(y, y + len(v)), 0, v, color=cmap(c % 20), alpha=0.8)
        ax.text(-0.05, y + len(v) / 2, str(c), fontsize=7)
        pfig.add_trace(go.Bar(x=v, y=np.arange(y, y + len(v)), orientation="h", name=f"cluster {c}", width=1.0))
        y += len(v) + 10
    mean = float(values.mean())
    ax.axvline(mean, color="red", linestyle="--")
    ax.set_xlabel("silhouette coefficient")
    ax.set_yticks([])
    pfig.add_vline(x=mean, line_dash="dash", line_color="red")
    pfig.update_layout(bargap=0, xaxis_title="silhouette coefficient", yaxis_visible=False, height=600)
    draw._save(fig, "silhouette", f"Silhouette plot, K = {k} (mean {mean:.3f})", section, pfig)


def _pca_terms(draw: Drawer, section: str, soups: Sequence[str], seed: int) -> None:
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    min_df = 5 if len(soups) > 200 else 1
    tfidf = TfidfVectorizer(min_df=min_df, max_features=5000, token_pattern=r"[A-Za-z0-9][A-Za-z0-9.+]+")
    x = tfidf.fit_transform(soups)
    terms = np.array(tfidf.get_feature_names_out())
    n_comp = max(1, min(10, x.shape[1] - 1, x.shape[0] - 1))
    try:  # PCA centres sparse input implicitly (arpack); plain SVD if the solver refuses
        pca = PCA(n_components=n_comp, svd_solver="arpack", random_state=seed).fit(x)
    except (TypeError, ValueError) as error:
        log.info("sparse PCA unavailable (%s); using truncated SVD", error)
        pca = TruncatedSVD(n_components=n_comp, random_state=seed).fit(x)
    ratio = pca.explained_variance_ratio_
    comps = list(range(1, len(ratio) + 1))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(comps, ratio, color="#4c72b0", label="component")
    ax.plot(comps, np.cumsum(ratio), color="red", marker="o", label="cumulative")
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance ratio")
    ax.legend()
    pfig = go.Figure(
        [
            go.Bar(x=comps, y=ratio, name="component"),
            go.Scatter(x=comps, y=np.cumsum(ratio), name="cumulative", mode="lines+markers"),
        ]
    )
    pfig.update_layout(xaxis_title="principal component", yaxis_title="explained variance ratio")
    draw._save(
        fig,
        "pca_variance",
        "PCA of soup terms (TF-IDF): explained variance",
        section,
        pfig,
        f"{x.shape[1]:,} terms (in at least {min_df} soups).",
    )
    shown = min(4, len(ratio))
    fig, axes = plt.subplots(1, shown, figsize=(4 * shown, 4), squeeze=False)
    pfig = make_subplots(rows=1, cols=shown, subplot_titles=[f"PC{i + 1}" for i in range(shown)])
    for i in range(shown):
        loading = pca.components_[i]
        top = np.argsort(-np.abs(loading))[:10][::-1]
        ax = axes[0][i]
        ax.barh(terms[top], loading[top], color=["#c44e52" if v < 0 else "#4c72b0" for v in loading[top]])
        ax.set_title(f"PC{i + 1} ({ratio[i]:.1%})")
        pfig.add_trace(go.Bar(x=loading[top], y=terms[top], orientation="h", name=f"PC{i + 1}"), row=1, col=i + 1)
    pfig.update_layout(showlegend=False, height=450)
    draw._save(fig, "pca_loadings", "PCA: top soup-term loadings per component", section, pfig)


def _cluster_map(
    draw: Drawer,
    section: str,
    matrix: np.ndarray,
    labels: np.ndarray,
    frame: Any,
    ids: Sequence[str],
    rng: np.random.Generator,
) -> None:
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from sklearn.decomposition import PCA

    if len(ids) < 3:
        return
    coords = PCA(n_components=2, random_state=0).fit_transform(matrix)
    shown = np.sort(rng.choice(len(ids), size=min(MAP_POINTS, len(ids)), replace=False))
    tasks = dict(zip(frame["id"], frame["task"], strict=True))
    fig, ax = plt.subplots(figsize=(8, 7))
    scatter = ax.scatter(coords[shown, 0], coords[shown, 1], c=labels[shown], cmap="tab20", s=4, alpha=0.7)
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    fig.colorbar(scatter, ax=ax, label="cluster")
    pfig = go.Figure(
        go.Scattergl(
            x=coords[shown, 0],
            y=coords[shown, 1],
            mode="markers",
            marker={"color": labels[shown], "colorscale": "Turbo", "size": 4, "showscale": True},
            text=[f"{ids[i]}<br>{tasks[ids[i]]}<br>cluster {labels[i]}" for i in shown],
            hoverinfo="text",
        )
    )
    pfig.update_layout(xaxis_title="PC1", yaxis_title="PC2", height=650)
    draw._save(
        fig,
        "cluster_map",
        "Clusters on the first two principal components of the text vectors",
        section,
        pfig,
        f"{len(shown):,} of {len(ids):,} models shown.",
    )


# --------------------------------------------------------------------------------------------------
# HTML


def _stats_table(title: str, stats: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in stats.items()
        if not isinstance(v, (list, dict)) or k in ("by_relation", "by_source", "snapshots")
    )
    return f"<h3>{html.escape(title)}</h3><table>{rows}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}" for k, v in value.items())
    return str(value)


def write_html(path: Path, figures: Sequence[Figure], stats: dict[str, Any]) -> Path:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>HFMRS data report</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:1em}"
        "table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}"
        ".note{color:#555}</style></head><body>",
        "<h1>HFMRS data report</h1>",
        _stats_table("Catalog", stats.get("catalog", {})),
        _stats_table("Lineage", stats.get("lineage", {})),
    ]
    clusters = stats.get("clusters", {})
    if clusters.get("profiles"):
        rows = "".join(
            f"<tr><td>{p['cluster']}</td><td>{p['size']:,}</td>"
            f"<td>{html.escape(', '.join(f'{t} ({n})' for t, n in p['top_tasks']))}</td>"
            f"<td>{html.escape(', '.join(f'{t} ({n})' for t, n in p['top_libraries']))}</td></tr>"
            for p in clusters["profiles"]
        )
        parts.append(
            f"<h3>Clusters (K = {clusters['k']}, {html.escape(clusters['k_choice'])})</h3>"
            f"<table><tr><th>cluster</th><th>models</th><th>top tasks</th><th>top libraries</th></tr>{rows}</table>"
        )
    section = None
    first = True
    for figure in figures:
        if figure.section != section:
            section = figure.section
            parts.append(f"<h2>{html.escape(section)}</h2>")
        # plotly.js goes in once, inline, so the page works with no network
        parts.append(figure.plotly.to_html(full_html=False, include_plotlyjs=first))
        first = False
        if figure.note:
            parts.append(f"<p class='note'>{html.escape(figure.note)}</p>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def build_report(
    settings: Settings,
    out_dir: Path,
    encoder: Encoder | None = None,
    encoder_factory: Callable[[], Encoder] | None = None,
    seed: int = 0,
) -> ReportResult:
    """Write ``report.html``, ``report.json`` and ``figures/*.png`` to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    draw = Drawer(out_dir / "figures")
    catalog = open_catalog(settings, live=False)
    frame = catalog_frame(catalog)
    stats: dict[str, Any] = {"catalog": eda(draw, frame)}
    edges = lineage_edges(catalog, settings.lineage_dir)
    stats["lineage"] = lineage_section(draw, catalog, edges)
    ids, matrix, soups, encoder_name = soup_vectors(catalog, settings, encoder, encoder_factory)
    manifest_k = ((_serving_manifest(settings).get("training") or {}).get("kmeans") or {}).get("k")
    serving_k = manifest_k if isinstance(manifest_k, int) else None
    stats["clusters"] = clustering_section(draw, ids, matrix, soups, frame, settings, seed, serving_k)
    stats["encoder"] = encoder_name
    html_path = write_html(out_dir / "report.html", draw.figures, stats)
    index = {
        "stats": stats,
        "figures": [
            {
                "name": f.name,
                "title": f.title,
                "section": f.section,
                "png": str(f.png.relative_to(out_dir)),
                "note": f.note,
            }
            for f in draw.figures
        ],
    }
    (out_dir / "report.json").write_text(json.dumps(index, indent=2, default=str))
    log.info("wrote %s with %d figures", html_path, len(draw.figures))
    return ReportResult(html_path, draw.dir, draw.figures, stats)
