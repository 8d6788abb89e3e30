"""The installed ``hfmrs`` command: the library's commands (:mod:`hfmrs.cli`) plus the HTTP services':
`hfmrs serve SERVICE` (one service, as in a container) and `hfmrs up` (everything on one machine).

`up` runs every service in one process, each on its own loopback port, talking to each other over
HTTP exactly as they do across containers; only the URLs differ.  The CLI only builds app objects
and runs uvicorn: the services hold no logic of their own beyond parsing and formatting.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
import uvicorn

from hfmrs.cli import app
from hfmrs.settings import Settings, get_settings

log = logging.getLogger(__name__)


class Service(StrEnum):
    recommender = "recommender"
    embedder = "embedder"
    ingest = "ingest"
    ui = "ui"


def app_factory(service: Service) -> Callable[[Settings], Any]:
    if service is Service.recommender:
        from services.recommender.app import create_app
    elif service is Service.embedder:
        from services.embedder.app import create_app
    elif service is Service.ingest:
        from services.ingest.app import create_app
    else:
        from services.ui.app import create_app
    return create_app


def default_port(settings: Settings, service: Service) -> int:
    return {
        Service.recommender: settings.recommender_port,
        Service.embedder: settings.embedder_port,
        Service.ingest: settings.ingest_port,
        Service.ui: settings.ui_port,
    }[service]


def _server(app: Any, host: str, port: int) -> uvicorn.Server:
    # A long keep-alive: clients (the UI, the extension, load tests) reuse connections instead of
    # racing the server's close of an idle one.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=30)
    return uvicorn.Server(config)


def serve(
    service: Annotated[Service, typer.Argument(help="Which service to run.")],
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default HFMRS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: the service's HFMRS_*_PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="Processes sharing the port (the recommender only; default HFMRS_WORKERS)."),
    ] = None,
) -> None:
    """Run one service (as each container does)."""
    settings = get_settings()
    host = host or settings.host
    port = port or default_port(settings, service)
    processes = workers or (settings.workers if service is Service.recommender else 1)
    if processes > 1 and service is not Service.recommender:
        typer.echo(f"error: only the recommender runs several processes, not the {service.value}", err=True)
        typer.echo("hint: leave out --workers, or run `hfmrs serve recommender --workers N`", err=True)
        raise typer.Exit(2)
    if processes > 1:
        typer.echo(f"{service.value}: http://{host}:{port} ({processes} processes{_copies_note(settings, processes)})")
        serve_workers(host, port, processes)
        return
    app = app_factory(service)(settings)
    typer.echo(f"{service.value}: http://{host}:{port}")
    _server(app, host, port).run()


def _copies_note(settings: Settings, processes: int) -> str:
    """What the processes past the first will copy (Qdrant Edge only), said before they start copying."""
    from hfmrs.store.builds import EdgeBuilds, open_builds
    from hfmrs.store.replicas import REPLICAS_DIR, tree_bytes

    builds = open_builds(settings)
    current = builds.current_id() if isinstance(builds, EdgeBuilds) else None
    if current is None:
        return ""
    size = tree_bytes(builds.shard_dir(current)) / 1e6
    where = settings.home / REPLICAS_DIR
    return f"; {processes - 1} of them serve a copy of the build's shard, {size:,.0f} MB each, under {where}"


def serve_workers(host: str, port: int, processes: int) -> None:
    """The recommender in ``processes`` processes on one socket (uvicorn's supervisor restarts any that dies).
    Each builds its app from the environment, so what this process changed in the settings goes there."""
    os.environ["HFMRS_WORKERS"] = str(processes)
    uvicorn.run(
        "services.recommender.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
    )


def _warm(url: str) -> None:
    try:
        httpx.get(url, timeout=180.0)
    except httpx.HTTPError as error:
        log.warning("could not warm the embedder (%s): the first search loads it", error)


def up(
    build: Annotated[bool, typer.Option(help="Build the bundled catalog first when needed.")] = True,
    train: Annotated[
        bool, typer.Option(help="Train k-means and the GNN in the background when the build lacks them.")
    ] = True,
    ui: Annotated[bool, typer.Option(help="Also serve the Gradio UI.")] = True,
) -> None:
    """Build on first use, then run every service on this machine and print their URLs."""
    settings = get_settings()
    if build:
        _build_first(settings)
    if not settings.admin_token:
        # Admin endpoints (ingest jobs, reload) are off without a token; `up` makes one for this run.
        settings = settings.model_copy(update={"admin_token": secrets.token_urlsafe(18)})
    base = f"http://{settings.host}"
    settings = settings.model_copy(
        update={
            "embedder_url": settings.embedder_url or f"{base}:{settings.embedder_port}",
            "recommender_url": settings.recommender_url or f"{base}:{settings.recommender_port}",
        }
    )
    workers = _start_workers(settings) if settings.workers > 1 else None
    if workers:  # a SIGTERM (docker stop, systemd) or an early Ctrl-C must stop them too, not leave them on the port
        signal.signal(signal.SIGTERM, _interrupt)
        atexit.register(_stop_workers, workers)
    services = [Service.embedder, Service.ingest] + ([Service.ui] if ui else [])
    servers = []
    for service in services if workers else [Service.recommender, *services]:
        app = app_factory(service)(settings)
        servers.append((service, _server(app, settings.host, default_port(settings, service))))
    threads = [threading.Thread(target=s.run, name=f"serve-{svc.value}", daemon=True) for svc, s in servers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while not all(s.started for _, s in servers) and time.monotonic() < deadline:
        if not any(t.is_alive() for t in threads):
            break
        time.sleep(0.1)
    port = default_port
    if workers:
        _wait_for_workers(workers, f"{base}:{port(settings, Service.recommender)}/health")
    _print_urls(settings, ui, workers is not None)
    # Load the embedder's query encoder now (its first load exports an ONNX graph, ~10 s), as a container's
    # health check does, so the first search does not wait for it.
    health = f"{base}:{port(settings, Service.embedder)}/health"
    threading.Thread(target=_warm, args=(health,), name="warm-embedder", daemon=True).start()
    if ui and not any(settings.reports_dir.glob("figures/*.png")):
        # The UI's "About the data" tab shows the report's plots: write them once, in the background.
        threading.Thread(target=_report_in_background, args=(settings,), name="report", daemon=True).start()
        typer.echo(f"Writing the data report to {settings.reports_dir}/ in the background (about 30 s).")
    if train and _needs_training(settings):
        threading.Thread(target=_train_in_background, args=(settings,), name="train", daemon=True).start()
        typer.echo("Training k-means clusters and GNN vectors in the background: the kmeans, gnn and hybrid")
        typer.echo("methods appear (live, no restart) when it finishes.")
    typer.echo("Press Ctrl-C to stop.")
    try:
        while any(t.is_alive() for t in threads) and (workers is None or workers.poll() is None):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for _, server in servers:
            server.should_exit = True
        if workers:
            _stop_workers(workers)
        for thread in threads:
            thread.join(timeout=10)


def _build_first(settings: Settings) -> None:
    from hfmrs.pipeline import build as run_build
    from hfmrs.store.lock import BuildRunningError

    # No training here: the first answer should not wait for the GNN.  A build whose inputs are
    # unchanged (trained or not) is reused as it is.
    try:
        result = run_build(settings)
    except BuildRunningError as error:  # serve the current build; the other builder publishes its own
        typer.echo(f"{error}: serving the current build, which swaps live when that one is published")
    else:
        state = "up to date" if result.skipped else f"built in {sum(result.timings.values()):.1f}s"
        typer.echo(f"build {result.build_id}: {result.models} models, {state}")


def _print_urls(settings: Settings, ui: bool, workers: bool) -> None:
    base, port = f"http://{settings.host}", default_port
    typer.echo("HFMRS is running:")
    processes = f" ({settings.workers} processes)" if workers else ""
    typer.echo(f"  API (recommender)  {base}:{port(settings, Service.recommender)}   docs: /docs{processes}")
    typer.echo(f"  embedder           {base}:{port(settings, Service.embedder)}")
    typer.echo(f"  ingest             {base}:{port(settings, Service.ingest)}")
    if ui:
        typer.echo(f"  web UI             {base}:{port(settings, Service.ui)}")
    if settings.mcp:
        typer.echo(f"  MCP (assistants)   {base}:{port(settings, Service.recommender)}/mcp")
    typer.echo(f"  admin token        {settings.admin_token}")


def _start_workers(settings: Settings) -> subprocess.Popen[bytes]:
    """``hfmrs serve recommender`` with HFMRS_WORKERS processes beside the in-process services (uvicorn's
    supervisor needs a main thread of its own), with this run's admin token and embedder URL."""
    env = {
        **os.environ,
        "HFMRS_WORKERS": str(settings.workers),
        "HFMRS_ADMIN_TOKEN": settings.admin_token or "",
        "HFMRS_EMBEDDER_URL": settings.embedder_url or "",
    }
    command = [sys.executable, "-m", "services.cli", "serve", "recommender"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def _wait_for_workers(workers: subprocess.Popen[bytes], health: str, seconds: float = 120.0) -> None:
    """Until the port answers (each process past the first copies the build's shard first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and workers.poll() is None:
        try:
            httpx.get(health, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    if workers.poll() is not None:
        typer.echo(f"error: the recommender processes exited ({workers.returncode}); see the log above", err=True)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # the way out that stops every service, as Ctrl-C does


def _stop_workers(workers: subprocess.Popen[bytes]) -> None:
    workers.terminate()
    try:
        workers.wait(timeout=15)
    except subprocess.TimeoutExpired:
        workers.kill()


def _needs_training(settings: Settings) -> bool:
    from hfmrs.store.builds import open_builds

    builds = open_builds(settings)
    current = builds.current_id()
    return current is not None and not builds.manifest(current).get("training")


def _train_in_background(settings: Settings) -> None:
    """A trained build of the same inputs, published atomically; the recommender swaps to it live."""
    from hfmrs.pipeline import build as run_build
    from hfmrs.training import make_trainer

    try:
        result = run_build(
            settings, force=True, trainer=make_trainer(settings, show_progress=False), show_progress=False
        )
    except Exception:  # the untrained build keeps serving; the log says why
        log.exception("background training failed")
        return
    log.info("trained build %s is live", result.build_id)


def _report_in_background(settings: Settings) -> None:
    from hfmrs.evaluation.cli import build_encoder
    from hfmrs.evaluation.report import build_report

    try:
        result = build_report(settings, settings.reports_dir, encoder_factory=lambda: build_encoder(settings))
    except Exception:  # the UI says "no report yet"; the log says why
        log.exception("the data report failed")
        return
    log.info("data report: %s (%d figures)", result.html, len(result.figures))


def mcp() -> None:
    """Serve HFMRS's tools to an AI assistant over stdio (Model Context Protocol): similar_models,
    search_models, model_info, list_methods.  Over the local build; when the services already hold it
    (`make run`), through their API."""
    from hfmrs.embedding import query_encoder
    from hfmrs.engine import Engine
    from hfmrs.remote import recommender_url
    from hfmrs.store.builds import NoBuildError
    from services.clients import RecommenderClient
    from services.mcp.server import ApiBackend, EngineBackend, make_server

    settings = get_settings()
    engine = None
    try:
        engine = Engine.open(settings)
        backend: Any = EngineBackend.local(engine, lambda: query_encoder(settings))
    except NoBuildError:
        typer.echo("error: there is no build yet\nhint: run `hfmrs build` first (or `make run`)", err=True)
        raise typer.Exit(1) from None
    except Exception as error:  # Qdrant Edge lets one process open a build: the running services hold it
        url = recommender_url(settings)
        log.info("the build is open in another process (%s); answering through the API at %s", error, url)
        backend = ApiBackend(RecommenderClient.from_url(url))
    try:
        make_server(backend).run("stdio")
    finally:
        if engine is not None:
            engine.close()


app.command()(serve)
app.command()(up)
app.command()(mcp)

if __name__ == "__main__":  # pragma: no cover
    app()
