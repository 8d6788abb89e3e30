"""``hfmrs evaluate`` and ``hfmrs report``, registered on the main app by :mod:`hfmrs.cli`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hfmrs.embedding import Encoder
from hfmrs.settings import Settings, get_settings


def build_encoder(settings: Settings) -> Encoder:
    """The build's encoder (a seam tests replace with the keyword encoder)."""
    from hfmrs.evaluation.runner import default_encoder

    return default_encoder(settings)


def seed_encoder(settings: Settings) -> Encoder:
    """The seed baseline's encoder: all-MiniLM-L6-v2 at its default 256 tokens (a seam for tests)."""
    from hfmrs.evaluation.runner import default_seed_encoder

    return default_seed_encoder(settings)


def parse_ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise typer.BadParameter(f"--k takes comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1 or ks[-1] > 100:
        raise typer.BadParameter("every k must be from 1 to 100")
    return ks


def register(app: typer.Typer) -> None:
    @app.command()
    def evaluate(
        methods: Annotated[
            str, typer.Option(help="'all', or comma-separated engine methods and baselines to evaluate.")
        ] = "all",
        k: Annotated[str, typer.Option("--k", help="Cut-offs, comma-separated.")] = "5,10,30",
        out: Annotated[Path, typer.Option(help="Folder for evaluation.md and evaluation.json.")] = Path("reports"),
        eval_home: Annotated[
            Path | None, typer.Option(help="Home of the evaluation's own build (default: $HFMRS_HOME/eval).")
        ] = None,
        family_queries: Annotated[int, typer.Option(help="Most queries in the family set (seeded sample).")] = 1000,
        resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the 95 % intervals.")] = 1000,
        seed: Annotated[int, typer.Option(help="Seed of the bootstrap, samples and random baseline.")] = 0,
        train: Annotated[
            bool, typer.Option(help="Train k-means/GNN/hybrid on the train edges (when hfmrs.training exists).")
        ] = True,
    ) -> None:
        """Evaluate every method and baseline on held-out lineage, model families and text queries."""
        from rich.console import Console

        from hfmrs.evaluation.runner import BASELINES, EvaluationConfig, run_evaluation

        settings = get_settings()
        config = EvaluationConfig(
            k_values=parse_ks(k),
            methods=None if methods.strip() == "all" else [m.strip() for m in methods.split(",") if m.strip()],
            max_family_queries=family_queries,
            resamples=resamples,
            seed=seed,
            train=train,
        )
        report = run_evaluation(
            settings,
            out,
            config,
            encoder=build_encoder(settings),
            seed_encoder=lambda: seed_encoder(settings),
            eval_home=eval_home,
            show_progress=sys.stderr.isatty(),
        )
        known = {*report["meta"]["engine_methods"], *BASELINES}
        unknown = sorted(set(config.methods or []) - known)
        console = Console()
        if unknown:
            console.print(f"[yellow]warning:[/yellow] unknown methods ignored: {', '.join(unknown)}")
        for set_name, best in report["winners"].items():
            if best:
                console.print(f"[bold]{set_name}[/bold]: " + "; ".join(f"{m} → {w}" for m, w in best.items()))
        console.print(f"wrote {out / 'evaluation.md'} and {out / 'evaluation.json'}")

    @app.command()
    def report(
        out: Annotated[Path, typer.Option(help="Folder for report.html and the PNG figures.")] = Path("reports"),
    ) -> None:
        """The data report: EDA (tasks, libraries, downloads, languages, licenses, lineage) and clustering
        (training's k-means sweep: HFMRS_KMEANS_K_MIN, _K_MAX, _K_STEP, _SAMPLE)."""
        from rich.console import Console

        from hfmrs.evaluation.report import build_report

        settings = get_settings()
        result = build_report(
            settings,
            out,
            encoder_factory=lambda: build_encoder(settings),
        )
        Console().print(f"wrote {result.html} and {len(result.figures)} figures in {result.figures_dir}")
