"""``hfmrs evaluate``, ``hfmrs tune-fused`` and ``hfmrs report``, registered on the main app by :mod:`hfmrs.cli`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hfmrs.embedding import Encoder
from hfmrs.settings import BUNDLED_DATA, Settings, get_settings


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


def tune_fused(
    rounds: Annotated[int, typer.Option(min=1, max=10, help="Coordinate-ascent rounds.")] = 3,
    judged_dir: Annotated[
        Path, typer.Option(help="Folder of judged-set files (data/eval/judged's format).")
    ] = BUNDLED_DATA / "eval" / "judged",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tune the fused method's weights on the judged set's tune half (the served build); print the shipped
    and tuned weights and both halves' scores.  Ship a change (hfmrs/recommenders/fused.py) only when the
    report half agrees."""
    import json

    from rich.console import Console
    from rich.table import Table

    from hfmrs.cli import fail, open_engine
    from hfmrs.evaluation.judged import load_judged
    from hfmrs.evaluation.tune import tune_on_judged
    from hfmrs.sources import open_catalog

    settings = get_settings()
    engine = open_engine(settings)
    try:
        judged = load_judged(judged_dir, open_catalog(settings, live=False))
        result = tune_on_judged(engine, judged, rounds=rounds, progress=lambda _: None)
    except ValueError as error:
        fail(str(error), f"hint: judged files are read from {judged_dir}")
    finally:
        engine.close()
    changed = {f: (w, result.tuned.weights[f]) for f, w in result.shipped.items() if w != result.tuned.weights[f]}
    if as_json:
        halves = {
            h: {n: dict(zip(("objective", "ndcg@10", "recall@100"), s, strict=True)) for n, s in v.items()}
            for h, v in result.halves.items()
        }
        print(json.dumps({"shipped": result.shipped, "tuned": result.tuned.weights, "halves": halves}, indent=2))
        return
    table = Table("half", "weights", "objective", "nDCG@10", "recall@100", title="fused weights on the judged set")
    for half, scores in result.halves.items():
        for name, (value, ndcg, recall) in scores.items():
            table.add_row(half, name, f"{value:.4f}", f"{ndcg:.4f}", f"{recall:.4f}")
    console = Console()
    console.print(table)
    console.print("changed: " + (", ".join(f"{f} {a} → {b}" for f, (a, b) in changed.items()) or "nothing"))


def register(app: typer.Typer) -> None:
    app.command("tune-fused")(tune_fused)

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
