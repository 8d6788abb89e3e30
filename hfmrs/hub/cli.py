"""``hfmrs ingest`` and ``hfmrs refresh`` (registered into :mod:`hfmrs.cli`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hfmrs.hub.crawl import SORTS, CrawlError, CrawlProgress
from hfmrs.store.lock import BuildRunningError

console = Console()
err = Console(stderr=True)

Limit = Annotated[int | None, typer.Option(help="Models to take from the top (default HFMRS_INGEST_LIMIT, 10000).")]
Sort = Annotated[str, typer.Option(help=f"Order of the top: {', '.join(SORTS)}.")]
PerTask = Annotated[
    int | None, typer.Option(help="Also the top N of every pipeline tag, so rare tasks are represented.")
]
Endpoint = Annotated[str | None, typer.Option(help="Hub base URL (default HFMRS_HF_ENDPOINT, else HF_ENDPOINT).")]


@contextmanager
def _progress_bar() -> Iterator[Callable[[CrawlProgress], None]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=err,
        disable=not sys.stderr.isatty(),
        transient=True,
    ) as bar:
        task = bar.add_task("crawling", total=None, note="")

        def update(p: CrawlProgress) -> None:
            note = p.message or f"{p.segment} ({p.segments_done}/{p.segments} listings, {p.skipped} malformed)"
            bar.update(task, completed=p.records, total=p.target, note=note)

        yield update


def _crawl_failed(error: BaseException) -> None:
    err.print(f"[red]error:[/red] {error}")
    err.print("the current snapshots are untouched; run the same command again to continue where it stopped")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        limit: Limit = None,
        sort: Sort = "downloads",
        per_task: PerTask = None,
        endpoint: Endpoint = None,
    ) -> None:
        """Crawl the live Hub into a new dated snapshot (resumes an interrupted crawl of the same options)."""
        from hfmrs.hub.crawl import crawl
        from hfmrs.settings import get_settings

        try:
            with _progress_bar() as update:
                result = crawl(get_settings(), limit, sort, per_task, endpoint, progress=update)
        except (CrawlError, ValueError) as error:
            _crawl_failed(error)
        except KeyboardInterrupt:
            err.print("interrupted; run the same command again to continue where it stopped")
            raise typer.Exit(130) from None
        console.print(
            f"{result.records:,} models ({result.skipped} malformed skipped, {result.retries} retries"
            f"{', resumed' if result.resumed else ''}) -> {result.snapshot}"
        )

    @app.command()
    def refresh(
        limit: Limit = None,
        sort: Sort = "downloads",
        per_task: PerTask = None,
        endpoint: Endpoint = None,
        force: Annotated[bool, typer.Option(help="Rebuild even when the catalog is unchanged.")] = False,
    ) -> None:
        """Ingest, re-embed only new or changed models, and switch the serving build (monthly cron job)."""
        from hfmrs.hub.refresh import refresh as run_refresh
        from hfmrs.settings import get_settings

        try:
            with _progress_bar() as update:
                result = run_refresh(
                    get_settings(),
                    limit=limit,
                    sort=sort,
                    per_task=per_task,
                    endpoint=endpoint,
                    progress=update,
                    force=force,
                    show_progress=sys.stderr.isatty(),
                )
        except BuildRunningError as error:
            from hfmrs.cli import builder_busy

            builder_busy(error)
        except (CrawlError, ValueError) as error:
            _crawl_failed(error)
        except KeyboardInterrupt:
            err.print("interrupted; run the same command again to continue where it stopped")
            raise typer.Exit(130) from None
        built = result.build
        console.print(f"crawled {result.crawl.records:,} models -> {result.crawl.snapshot.name}")
        console.print(
            f"build {built.build_id}"
            + (" (up to date, skipped)" if built.skipped else "")
            + f": {built.models:,} models, {built.embedded:,} soups embedded now"
        )
