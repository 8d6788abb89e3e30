"""`hfmrs` command line: parse arguments, call the engine or the pipeline, print the result.

These are the library's commands; ``services/cli.py`` adds the HTTP services' (``serve``, ``up``) and is
what the installed ``hfmrs`` runs.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from hfmrs.engine import K_MAX, K_MIN, SORTS, Engine
from hfmrs.filters import Filters, public_fields
from hfmrs.ids import UnknownModelError
from hfmrs.remote import ApiUnavailableError, RemoteEngine
from hfmrs.search import DEFAULT_METHOD as DEFAULT_SEARCH_METHOD
from hfmrs.search import METHODS as SEARCH_METHODS
from hfmrs.settings import Settings, get_settings
from hfmrs.sizes import format_params
from hfmrs.store.builds import NoBuildError, NotEnoughSpaceError
from hfmrs.store.lock import BuildRunningError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="HFMRS, the Hugging Face Model Recommender System.")
console = Console()
err = Console(stderr=True)
log = logging.getLogger(__name__)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )
    if not verbose:  # httpx logs every request at INFO: the CLI beside `make run` asks its API a few times
        logging.getLogger("httpx").setLevel(logging.WARNING)


def fail(message: str, hint: str | None = None, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    if hint:
        err.print(hint)
    raise typer.Exit(code)


def open_engine(settings: Settings) -> Engine | RemoteEngine:
    """The serving build, opened here; or, when the running services hold it (Qdrant Edge lets one process
    open a build), their API, which answers with the same engine."""
    try:
        return Engine.open(settings)
    except NoBuildError:
        fail("there is no build yet", "hint: run `hfmrs build` first (or `make run`)", code=1)
    except Exception as error:
        if "WouldBlock" not in str(error):
            raise
    remote = RemoteEngine.from_settings(settings)
    try:
        remote.method_infos()
    except (ApiUnavailableError, ValueError) as error:
        remote.close()
        fail(
            f"the build is open in another process, and {error}",
            "hint: start the services (`make run`), or stop the process that holds the build; "
            "HFMRS_RECOMMENDER_URL says where the API is",
            code=1,
        )
    log.info("the build is open in another process: answering through its API at %s", remote.url)
    return remote


def builder_busy(error: BuildRunningError) -> NoReturn:
    fail(str(error), "hint: wait for it to finish (or stop it), then run this again", code=1)


def validate_early(n: int, sort: str, command: str) -> None:
    """Arguments checked before anything is opened, so a typo costs nothing and says what to type."""
    if not K_MIN <= n <= K_MAX:
        fail(f"-n must be from {K_MIN} to {K_MAX}, got {n}", f"hint: see `hfmrs {command} --help`")
    if sort not in SORTS:
        fail(f"unknown sort {sort!r}; choose one of: {', '.join(SORTS)}", f"hint: see `hfmrs {command} --help`")


@app.command()
def build(
    force: Annotated[bool, typer.Option(help="Rebuild even when the inputs are unchanged.")] = False,
    train: Annotated[
        bool, typer.Option(help="Train k-means clusters, GNN vectors and hybrid weights (methods kmeans, gnn, hybrid).")
    ] = True,
) -> None:
    """Build the catalog: snapshots -> Qdrant payloads -> embeddings -> indexes (skipped when up to date)."""
    from hfmrs.pipeline import build as run_build
    from hfmrs.store.builds import open_builds

    settings = get_settings()
    builds = open_builds(settings)
    trainer = None
    if train:
        from hfmrs.training import make_trainer
        from hfmrs.training.cli import describe

        trainer = make_trainer(settings)
        # The input hash does not cover training: an up-to-date but untrained build is rebuilt once.
        current = builds.current_id()
        if current is not None and not builds.manifest(current).get("training"):
            force = True
    try:
        result = run_build(settings, builds=builds, force=force, trainer=trainer, show_progress=sys.stderr.isatty())
    except BuildRunningError as error:
        builder_busy(error)
    except NotEnoughSpaceError as error:
        fail(str(error), "hint: free some space, or set HFMRS_HOME to a bigger disk", code=1)
    except OSError as error:  # a read-only or vanished home; the failed build was discarded
        fail(f"the build could not write to {settings.home}: {error}", "hint: check HFMRS_HOME's disk", code=1)
    manifest = builds.manifest(result.build_id)
    table = Table(title=f"build {result.build_id}" + (" (up to date, skipped)" if result.skipped else ""))
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in result.timings.items():
        table.add_row(stage, f"{seconds:.2f}")
    for stage, seconds in ((manifest.get("training") or {}).get("timings") or {}).items():
        table.add_row(f"  train: {stage}", f"{seconds:.2f}")
    table.add_row("[bold]total", f"[bold]{sum(result.timings.values()):.2f}")
    console.print(table)
    console.print(f"{result.models} models; {result.embedded} soups embedded now, the rest from the vector cache")
    if train:
        console.print(describe(manifest.get("training") or {}))


@app.command("bundle-vectors")
def bundle_vectors(
    out: Annotated[Path, typer.Option(help="Folder to write <encoder>.npz to (data/vectors ships with HFMRS).")],
) -> None:
    """Embed what the bundled builds need (full catalog, without the NPDL snapshot, the evaluation's) into OUT."""
    from hfmrs.pipeline import bundle_vectors as write

    written, embedded = write(get_settings(), out)
    console.print(f"{written:,} vectors in {out} ({embedded:,} embedded now, the rest from the vector cache)")


def with_filter_options(command: Callable[..., None]) -> Callable[..., None]:
    """One option per public filter field (:data:`hfmrs.filters.FIELDS`) for a command taking ``filters``:
    the values arrive as one validated :class:`~hfmrs.filters.Filters`, and a bad value exits 2 with the
    field's message before anything is opened."""
    fields = public_fields()
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "filters"]
    options = []
    for f in fields:
        flags = ["--" + f.name.replace("_", "-"), *f.cli_names]
        hint = f.help + (f" One of: {', '.join(f.choices)}." if f.choices else "")
        annotation = Annotated[f.type | None, typer.Option(*flags, help=hint, show_default=f.default is not None)]
        options.append(
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=annotation)
        )

    @functools.wraps(command)
    def with_filters(*args: Any, **kwargs: Any) -> None:
        values = {f.name: kwargs.pop(f.name, f.default) for f in fields}
        try:
            filters = Filters(**values)
        except ValueError as error:
            fail(str(error), f"hint: see `hfmrs {command.__name__} --help`")
        command(*args, filters=filters, **kwargs)

    parameters = [*kept, *options]
    with_filters.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_filters.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_filters


JSON_FIELDS = ("id", "score", "match", "downloads", "pipeline_tag", "params_billions", "params_source", "relation")


def _json_row(r: Any) -> dict[str, Any]:
    return {**{name: getattr(r, name) for name in JSON_FIELDS}, "variants": r.variants}


@app.command()
@with_filter_options
def recommend(
    model_id: Annotated[str, typer.Argument(help="Model id or legacy alias, e.g. gpt2 or openai-community/gpt2.")],
    n: Annotated[int, typer.Option("-n", "--n", help=f"Number of results ({K_MIN}-{K_MAX}).")] = 10,
    method: Annotated[str | None, typer.Option(help="Method (see `hfmrs methods`); default from settings.")] = None,
    sort: Annotated[str, typer.Option(help=f"Order: {', '.join(SORTS)}.")] = "score",
    diversity: Annotated[
        float | None, typer.Option(help="MMR λ from 0 to 1: 1 = the method's ranking, lower = more varied.")
    ] = None,
    per_author: Annotated[int | None, typer.Option(help="At most this many results per author.")] = None,
    relation: Annotated[
        str,
        typer.Option(help="family (lineage, size variants, copies), alternatives (other models for the job) or all."),
    ] = "all",
    collapse: Annotated[
        bool, typer.Option(help="Group quantized, format and test copies under the model they copy.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    filters: Filters | None = None,
) -> None:
    """Models similar to MODEL_ID (filters: every option from --pipeline-tag on)."""
    validate_early(n, sort, "recommend")
    engine = open_engine(get_settings())
    try:
        result = engine.similar(
            model_id,
            k=n,
            method=method,
            sort=sort,
            filters=filters,
            diversity=diversity,
            per_author=per_author,
            relation=relation,
            collapse=collapse,
        )
    except UnknownModelError as error:
        fail(f"unknown model id {model_id!r}", "did you mean:\n  " + "\n  ".join(error.suggestions))
    except ValueError as error:
        fail(str(error), "hint: see `hfmrs recommend --help`")
    except ApiUnavailableError as error:
        fail(str(error), "hint: is `make run` still running?", code=1)
    finally:
        engine.close()
    if as_json:
        print(json.dumps([_json_row(r) for r in result.results], indent=2))
        return
    table = Table(title=f"similar to {result.query} ({result.method}, sort={sort})")
    names = [r.id + (f" (+{len(r.variants)} copies)" if r.variants else "") for r in result.results]
    widest = max((len(name) for name in names), default=5)
    for column, justify in (
        ("#", "right"),
        ("model", "left"),
        ("relation", "left"),
        ("match", "right"),
        ("downloads", "right"),
        ("task", "left"),
        ("size", "right"),
        ("why", "left"),
    ):
        # Ids are never cut: the `why` column gives way first.
        width = {"model": min(widest, 60), "why": 12}.get(column)
        table.add_column(column, justify=justify, min_width=width, no_wrap=column == "model")  # type: ignore[arg-type]
    for i, (r, name) in enumerate(zip(result.results, names, strict=True), 1):
        size = format_params(r.params_billions, r.params_source)
        row = [str(i), name, r.relation or "", str(r.match), f"{r.downloads:,}", r.pipeline_tag or "", size]
        table.add_row(*row, "; ".join(r.why[:3]))
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}")
    if not result.results:
        console.print("no models match these filters")


@app.command()
@with_filter_options
def search(
    text: Annotated[str, typer.Argument(help='What you need, in words, e.g. "speech to text for German podcasts".')],
    n: Annotated[int, typer.Option("-n", "--n", help=f"Number of results ({K_MIN}-{K_MAX}).")] = 10,
    method: Annotated[str, typer.Option(help=f"Search method: {', '.join(SEARCH_METHODS)}.")] = DEFAULT_SEARCH_METHOD,
    sort: Annotated[str, typer.Option(help=f"Order: {', '.join(SORTS)}.")] = "score",
    understand: Annotated[
        bool, typer.Option(help="Read task, language, size, licence and format from the text.")
    ] = True,
    ignore: Annotated[
        list[str] | None, typer.Option(help="Drop a part of what was understood (tasks, languages, size, a filter).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    filters: Filters | None = None,
) -> None:
    """Models that fit a need described in words (filters: every option from --pipeline-tag on)."""
    from hfmrs.embedding import query_encoder

    if not text.strip():
        fail("the search text is blank", 'hint: describe what you need, e.g. hfmrs search "German speech recognition"')
    validate_early(n, sort, "search")
    settings = get_settings()
    engine = open_engine(settings)
    asked = {"k": n, "method": method, "sort": sort, "filters": filters, "understand": understand}
    try:
        if isinstance(engine, RemoteEngine):  # the API embeds the text itself
            result = engine.search_text(text, ignore=ignore or (), **asked)
        else:
            vector = query_encoder(settings).encode([text])[0].tolist()
            result = engine.search(text, vector, ignore=ignore or (), **asked)
    except ValueError as error:
        fail(str(error), "hint: see `hfmrs search --help`")
    except ApiUnavailableError as error:
        fail(str(error), "hint: is `make run` still running?", code=1)
    finally:
        engine.close()
    if as_json:
        print(json.dumps(asdict(result), indent=2))
        return
    if result.understood:
        console.print("understood: " + ", ".join(f"{k}={v}" for k, v in result.understood.items()))
    table = Table(title=f"models for {text!r} ({result.method}, sort={sort})")
    for column in ("#", "model", "downloads", "task", "size", "why"):
        justify = "right" if column in ("#", "downloads", "size") else "left"
        table.add_column(column, justify=justify, no_wrap=column == "model", min_width=12 if column == "why" else None)  # type: ignore[arg-type]
    for i, r in enumerate(result.results, 1):
        name = r.id + (f" (+{len(r.variants)} copies)" if r.variants else "")
        size = format_params(r.params_billions, r.params_source)
        table.add_row(str(i), name, f"{r.downloads:,}", r.pipeline_tag or "", size, "; ".join(r.why[:3]))
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}")
    if not result.results:
        console.print("no models match these filters")


@app.command()
def info(model_id: Annotated[str, typer.Argument(help="Model id or legacy alias.")]) -> None:
    """Everything the catalog knows about MODEL_ID, as JSON."""
    engine = open_engine(get_settings())
    try:
        payload = engine.info(model_id)
    except UnknownModelError as error:
        fail(f"unknown model id {model_id!r}", "did you mean:\n  " + "\n  ".join(error.suggestions))
    except ValueError as error:
        fail(str(error))
    except ApiUnavailableError as error:
        fail(str(error), "hint: is `make run` still running?", code=1)
    finally:
        engine.close()
    print(json.dumps(payload, indent=2, sort_keys=True))


@app.command()
def methods() -> None:
    """The recommendation methods the serving build offers."""
    engine = open_engine(get_settings())
    try:
        for m in engine.method_infos():
            console.print(f"[bold]{m.name}[/bold]{' (default)' if m.default else ''}: {m.description}")
    except ApiUnavailableError as error:
        fail(str(error), "hint: is `make run` still running?", code=1)
    finally:
        engine.close()


# Commands that live beside the code they run (training, evaluation, live ingest); imported last because
# they register on `app`.  The HTTP services add `serve` and `up` (services/cli.py, the installed `hfmrs`).
from hfmrs.evaluation import cli as evaluation_cli  # noqa: E402
from hfmrs.hub import cli as hub_cli  # noqa: E402
from hfmrs.training import cli as training_cli  # noqa: E402

for _module in (training_cli, evaluation_cli, hub_cli):
    _module.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
