"""`hfmrs train`: a new build with k-means clusters, GNN vectors and tuned hybrid weights."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def summary_table(title: str, timings: dict[str, float], training: dict[str, Any]) -> Table:
    """Stage timings (build and training) and what training chose, for `hfmrs build` and `hfmrs train`."""
    table = Table(title=title)
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in timings.items():
        table.add_row(stage, f"{seconds:.2f}")
    for stage, seconds in (training.get("timings") or {}).items():
        table.add_row(f"  train: {stage}", f"{seconds:.2f}")
    table.add_row("[bold]total", f"[bold]{sum(timings.values()):.2f}")
    return table


def describe(training: dict[str, Any]) -> str:
    if not training:
        return "not trained (kmeans, gnn and hybrid are unavailable on this build)"
    km, gnn, hybrid = training.get("kmeans", {}), training.get("gnn", {}), training.get("hybrid", {})
    return (
        f"k-means K={km.get('k')} (picks {km.get('picks')}); "
        f"GNN {gnn.get('epochs')} epochs, loss {gnn.get('first_loss')} -> {gnn.get('final_loss')}, "
        f"validation AUC {gnn.get('validation_auc')}; "
        f"hybrid weights text/gnn/bm25 = {hybrid.get('weights')} ({hybrid.get('metric')} on {hybrid.get('queries')})"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def train() -> None:
        """Retrain: a new build (vectors from the cache) with k-means clusters, GNN vectors and tuned
        hybrid weights, published atomically.  Training settings: HFMRS_KMEANS_*, HFMRS_GNN_*, HFMRS_HYBRID_*."""
        from hfmrs.cli import builder_busy
        from hfmrs.pipeline import build
        from hfmrs.settings import get_settings
        from hfmrs.store.builds import open_builds
        from hfmrs.store.lock import BuildRunningError
        from hfmrs.training import make_trainer

        settings = get_settings()
        try:
            result = build(settings, force=True, trainer=make_trainer(settings), show_progress=sys.stderr.isatty())
        except BuildRunningError as error:
            builder_busy(error)
        training = open_builds(settings).manifest(result.build_id).get("training") or {}
        console.print(summary_table(f"build {result.build_id} (trained)", result.timings, training))
        console.print(describe(training))
