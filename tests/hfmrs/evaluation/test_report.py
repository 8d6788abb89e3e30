"""`hfmrs report`: EDA and clustering figures (PNG), one self-contained HTML, an index for the UI."""

import json

from typer.testing import CliRunner

from hfmrs.embedding import KeywordEncoder
from hfmrs.evaluation import cli as eval_cli
from hfmrs.settings import get_settings
from tests.conftest import KEYWORDS

EXPECTED = {
    "models_per_task",
    "models_per_library",
    "downloads_by_model_type",
    "downloads_by_architecture",
    "library_task_heatmap",
    "downloads_distribution",
    "languages",
    "licenses",
    "lineage_edges",
    "elbow",
    "cluster_scores",
    "silhouette",
    "pca_variance",
    "pca_loadings",
    "cluster_map",
}


def test_report_on_the_small_catalog(settings, tmp_path, monkeypatch):
    """`hfmrs report` end to end (one run, to keep CI short), checked through its outputs."""
    from hfmrs.cli import app

    encoder = KeywordEncoder(KEYWORDS)
    monkeypatch.setattr(eval_cli, "build_encoder", lambda s: encoder)
    monkeypatch.setenv("HFMRS_HOME", str(settings.home))
    monkeypatch.setenv("HFMRS_SNAPSHOT_DIR", str(settings.snapshot_dir))
    monkeypatch.setenv("HFMRS_VECTOR_CACHE", str(settings.vector_cache))
    for name, value in (("K_MIN", "2"), ("K_MAX", "6"), ("K_STEP", "1"), ("SAMPLE", "50")):
        monkeypatch.setenv(f"HFMRS_KMEANS_{name}", value)  # the report runs training's sweep
    get_settings.cache_clear()
    out = tmp_path / "reports"
    try:
        result = CliRunner().invoke(app, ["report", "--out", str(out)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert encoder.calls == 15  # every soup embedded once (there is no vector cache to read)

    index = json.loads((out / "report.json").read_text())
    names = {f["name"] for f in index["figures"]}
    assert names >= EXPECTED
    for figure in index["figures"]:
        assert (out / figure["png"]).read_bytes()[:4] == b"\x89PNG"

    page = (out / "report.html").read_text()
    assert page.count("<h2>") == 3  # Catalog, Lineage, Clusters
    # plotly.js is inlined once, so the page opens offline: no external script, one bundle
    assert "<script src=" not in page and page.count("Plotly.newPlot") >= len(EXPECTED)
    assert len(page) > 3_000_000

    stats = index["stats"]
    assert stats["catalog"]["models"] == 15 and stats["catalog"]["models_without_task"] == 2
    assert stats["lineage"]["edges"] >= 2
    clusters = stats["clusters"]
    assert [c["k"] for c in clusters["curve"]] == [2, 3, 4, 5, 6] and 2 <= clusters["k"] <= 6
    assert sum(p["size"] for p in clusters["profiles"]) == 15
