"""HTTP load test of the recommender: ``GET /v1/models/{id}/similar?k=10``, 1 vs N worker processes.

Starts ``hfmrs serve recommender --workers N`` as a subprocess on a free 127.0.0.1 port over a built
HFMRS_HOME (``--home``, else the bundled catalog is built into a temp home first), waits for /health, then
drives a fixed number of requests from ``--concurrency`` closed-loop asyncio clients (httpx), bounded by
``--requests`` and ``--max-seconds``, for each cell of ``--workers`` x ``--ids``:

- ``uniform``: every model equally likely.  19.4k models and 5,000 requests: most ids are asked once,
  so nearly every request misses the response cache and runs the whole search and ranking.
- ``popular``: ids drawn in proportion to downloads, as page views of the Hub (and so the extension's
  requests) follow use; popular models repeat, so many requests are answered from the response cache.
- ``popular-warm``: the same after ``--warm-requests`` (20,000) untimed requests of the same draw, as a
  server that has been up for a while sees them.

Prints p50/p90/p99/max latency, throughput, errors, the server's CPU time per request (all its processes)
and the load generator's own (it shares the cores with the server).  Beside it: the seed's per-request
approach (rebuild N x N matrices in every request) for a few requests at N = 10k, in-process.

With Qdrant Edge each worker past the first serves its own copy of the build's shard
(``hfmrs.store.replicas``); the copy is made while the worker starts.

``--profile`` samples the server with py-spy during the run (install it outside the venv:
``pip install --target /tmp/pyspy py-spy``; found on PATH or in /tmp/pyspy/bin) and prints the
functions with the most samples (one worker: the first cell only).

Full run:  .venv/bin/python benchmarks/api_load.py --home /tmp/bench-home      (after `hfmrs build`)
           .venv/bin/python benchmarks/api_load.py                              (builds the bundled catalog)
Smoke:     .venv/bin/python benchmarks/api_load.py --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    REPO,
    RESULTS,
    free_port,
    header,
    percentiles,
    print_table,
    synthetic_build,
    write_json,
)


def ensure_home(args: argparse.Namespace, tmp: Path) -> Path:
    if args.home:
        return args.home
    home = tmp / "home"
    if args.smoke:
        synthetic_build(home, 600, real_limit=300)
    else:
        from hfmrs.pipeline import build
        from hfmrs.settings import Settings

        build(Settings(home=home, _env_file=None), show_progress=False)
    return home


def model_downloads(home: Path) -> dict[str, int]:
    """Every served id and its downloads (the ``popular`` draw's weights), read before the server holds the build."""
    from hfmrs.engine import Engine
    from hfmrs.settings import Settings

    engine = Engine.open(Settings(home=home, _env_file=None))
    try:
        return {p.id: int(p.payload.get("downloads") or 0) for p in engine.store.scroll(fields=["downloads"])}
    finally:
        engine.close()


def draw_ids(downloads: dict[str, int], how: str, n: int, rng: random.Random) -> list[str]:
    ids = list(downloads)
    if how == "uniform":
        return [rng.choice(ids) for _ in range(n)]
    return rng.choices(ids, weights=[downloads[i] + 1 for i in ids], k=n)


def start_server(home: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HFMRS_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [str(Path(sys.executable).parent / "hfmrs"), "serve", "recommender", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def server_cpu_s(proc: Any) -> float:
    """CPU seconds of the server and its worker processes."""
    import psutil

    total = 0.0
    for process in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(process.cpu_times()[:2])
    return total


def server_rss_mb(proc: Any) -> float:
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float) -> float:
    import httpx

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {proc.stderr.read().decode()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("server not healthy in time")


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time (a closed-loop client).  Responses are
    parsed by httptools, uvicorn's C parser: the load generator shares the cores with the server, and a
    full client (httpx) spends 1.5-3 ms of CPU a request, as much as the server, which capped what was
    measured at the client's speed."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception as error:  # httptools.HttpParserError: a broken response
            self._finish(error)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self._finish(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc or ConnectionError("the server closed the connection"))

    def _finish(self, error: BaseException | None) -> None:
        waiter, self.waiter = self.waiter, None
        body, self.body = b"".join(self.body), []
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result((self.parser.get_status_code(), body))
        else:
            waiter.set_exception(error)

    async def get(self, target: str) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return await self.waiter


async def load(port: int, ids: list[str], concurrency: int, max_seconds: float, k: int) -> dict[str, Any]:
    """``len(ids)`` requests, in order, from ``concurrency`` closed-loop clients."""
    import orjson

    latencies: list[float] = []
    errors: Counter[str] = Counter()
    todo = iter(ids)
    deadline = time.perf_counter() + max_seconds
    loop = asyncio.get_running_loop()

    async def client_loop() -> None:
        _, connection = await loop.create_connection(Connection, "127.0.0.1", port)
        # asyncio is single-threaded: next() between awaits needs no lock
        for model_id in todo:
            if time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            try:
                status, body = await connection.get(f"/v1/models/{quote(model_id, safe='/')}/similar?k={k}")
                if status != 200:
                    errors[f"HTTP {status}"] += 1
                    continue
                orjson.loads(body)  # the whole answer arrived, and is JSON
            except Exception as error:
                errors[type(error).__name__] += 1
                _, connection = await loop.create_connection(Connection, "127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - start)
        if connection.transport is not None:
            connection.transport.close()

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    done = len(latencies) + sum(errors.values())
    return {
        "requests": done,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "wall_s": round(wall, 3),
        "throughput_rps": round(len(latencies) / wall, 1) if wall else None,
        "client_cpu_ms_per_request": round(cpu * 1000 / done, 3) if done else None,
        "latency": percentiles(latencies),
    }


async def asgi_get(app: Any, path: str, query: bytes) -> int:
    """One GET through the ASGI app itself (no socket, no HTTP parsing): the status."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    return status


def route_costs(home: Path, ids: list[str], k: int) -> dict[str, Any]:
    """CPU per request in one process, no network: ``Engine.similar`` alone, the recommender app on a miss
    (response cache off) and on a hit.  The app minus the engine is what the route adds (parameters,
    validation, serialisation, middleware); the engine is the search and the method's ranking."""
    from hfmrs.settings import Settings
    from services.recommender.app import create_app
    from services.recommender.live import LiveEngine

    settings = Settings(home=home, _env_file=None)
    live = LiveEngine(settings)
    apps = {
        "uncached": create_app(settings.model_copy(update={"response_cache_mb": 0}), live=live),
        "cached": create_app(settings, live=live),
    }
    try:
        spent, n = uvloop.run(_route_costs(live, apps, ids, k))
    finally:
        live.close()
    costs = {f"{name}_ms": round(1000 * total / n, 3) for name, total in spent.items()}
    costs["route_ms"] = round(costs["app_miss_ms"] - costs["engine_ms"], 3)
    return {"requests": n, **costs}


async def _route_costs(live: Any, apps: dict[str, Any], ids: list[str], k: int) -> tuple[dict[str, float], int]:
    from services.common import settle_heap

    query = f"k={k}".encode()
    half = len(ids) // 2
    with live.acquire() as engine:
        settle_heap()
        for model_id in ids[:half]:  # warm-up: the engine's caches, the apps' first calls
            engine.similar(model_id, k=k)
            await asgi_get(apps["uncached"], f"/v1/models/{quote(model_id, safe='/')}/similar", query)
        spent = {"engine": 0.0, "app_miss": 0.0, "app_hit": 0.0}
        for j, model_id in enumerate(ids[half:]):
            path = f"/v1/models/{quote(model_id, safe='/')}/similar"
            # Alternate which goes first: the second one finds the first one's hit cards decoded.
            for name in ("engine", "app_miss") if j % 2 else ("app_miss", "engine"):
                start = time.process_time()
                if name == "engine":
                    engine.similar(model_id, k=k)
                else:
                    await asgi_get(apps["uncached"], path, query)
                spent[name] += time.process_time() - start
            await asgi_get(apps["cached"], path, query)  # a miss that fills the cache ...
            start = time.process_time()
            assert await asgi_get(apps["cached"], path, query) == 200  # ... then the hit
            spent["app_hit"] += time.process_time() - start
    return spent, len(ids) - half


def find_py_spy() -> str | None:
    return shutil.which("py-spy") or next((str(p) for p in [Path("/tmp/pyspy/bin/py-spy")] if p.exists()), None)


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    py_spy = find_py_spy()
    if py_spy is None:
        print("  --profile: py-spy not found (pip install --target /tmp/pyspy py-spy); skipping")
        return None
    env = {**os.environ, "PYTHONPATH": str(Path(py_spy).parent.parent)}
    cmd = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    cmd += ["--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


IDLE_LEAVES = ("wait", "select", "get", "sleep", "_worker", "poll", "accept")
# py-spy prints paths relative to the working directory or site-packages: match on a leading "/" added.
OWN_CODE = ("/hfmrs/", "/services/", "/fastapi/", "/starlette/", "/pydantic", "/qdrant", "/anyio/", "/uvicorn/")


def summarize_profile(raw: Path, top: int = 25) -> dict[str, Any]:
    """Collapsed stacks -> share of busy samples per function (inclusive, own and framework code only)
    and per leaf (self).  Idle threads (thread-pool workers waiting, the event loop in select) are
    dropped, so shares are of the time the server spent working."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    busy = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        n = int(count)
        frames = []
        for frame in stack.split(";"):
            func, _, where = frame.partition(" (")
            path = where.rstrip(")").rsplit(":", 1)[0]
            frames.append((func.strip(), path, "/".join(Path(path).parts[-2:])))
        if frames[-1][0].rsplit(".", 1)[-1] in IDLE_LEAVES:
            idle += n
            continue
        busy += n
        for func, _path, short in {f for f in frames if any(part in "/" + f[1] for part in OWN_CODE)}:
            inclusive[f"{func} ({short})"] += n
        leaf[f"{frames[-1][0]} ({frames[-1][2]})"] += n

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * c / busy, 1)) for f, c in counter.most_common(top)] if busy else []

    return {"samples": busy, "idle_samples": idle, "inclusive": share(inclusive), "self": share(leaf)}


def seed_compare(n: int, requests: int, real_limit: int | None) -> dict[str, Any]:
    from seed_approach import seed_requests

    return seed_requests(n, requests, real_limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="A built HFMRS_HOME (default: build the bundled catalog now).")
    parser.add_argument("--workers", default="1,2", help="Worker processes to compare, comma-separated.")
    parser.add_argument(
        "--ids",
        default="uniform,popular,popular-warm",
        help="How ids are drawn: uniform, popular (by downloads), popular-warm (the same after --warm-requests).",
    )
    parser.add_argument("--warm-requests", type=int, default=20_000, help="Untimed requests of a -warm cell.")
    parser.add_argument("--route-requests", type=int, default=4000, help="Ids of the in-process route costs.")
    parser.add_argument("--requests", type=int, default=5000, help="Requests per cell (bounded).")
    parser.add_argument("--concurrency", type=int, default=20, help="Concurrent closed-loop clients.")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="Time cap of each load phase.")
    parser.add_argument("--warmup", type=int, default=200, help="Untimed requests first (same draw).")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed-n", type=int, default=10_000, help="N of the seed comparison (<= 10000).")
    parser.add_argument("--seed-requests", type=int, default=5, help="Seed requests (each rebuilds N x N).")
    parser.add_argument("--profile", action="store_true", help="Sample the first cell's server with py-spy.")
    parser.add_argument("--smoke", action="store_true", help="Tiny catalog, 200 requests, 10 clients.")
    parser.add_argument("--out", type=Path, default=RESULTS / "api_load.json")
    args = parser.parse_args(argv)
    real_limit = None
    if args.smoke:
        args.requests, args.concurrency, args.warmup, args.max_seconds = 200, 10, 20, 30.0
        args.ids, args.warm_requests, args.route_requests = "uniform,popular-warm", 200, 60
        args.seed_n, args.seed_requests, real_limit = 600, 2, 300
    report = header("API load", args.smoke)
    report["load"] = []
    with tempfile.TemporaryDirectory(prefix="hfmrs-load-") as tmp_name:
        tmp = Path(tmp_name)
        home = ensure_home(args, tmp)
        downloads = model_downloads(home)
        route_ids = draw_ids(downloads, "uniform", args.route_requests, random.Random(3))
        report["in_process"] = route_costs(home, route_ids, args.k)
        for workers in (int(w) for w in args.workers.split(",")):
            for how in args.ids.split(","):
                profile = tmp / "profile.txt" if args.profile and not report["load"] else None
                cell = run_cell(home, downloads, workers, how, args, profile)
                report["load"].append(cell)
                if profile is not None and profile.exists():
                    report["profile"] = summarize_profile(profile)
                    shutil.copy(profile, args.out.with_suffix(".profile.txt"))
    report["seed"] = seed_compare(args.seed_n, args.seed_requests, real_limit)
    render(report)
    print(f"wrote {write_json(args.out, report)}")
    return 0


def run_cell(
    home: Path, downloads: dict[str, int], workers: int, how: str, args: argparse.Namespace, profile: Path | None
) -> dict[str, Any]:
    """One server with ``workers`` processes, warmed up, then the timed load."""
    import psutil

    rng = random.Random(7)
    draw, warmup = how.removesuffix("-warm"), args.warm_requests if how.endswith("-warm") else args.warmup
    warm, timed = draw_ids(downloads, draw, warmup, rng), draw_ids(downloads, draw, args.requests, rng)
    port = free_port()
    proc = start_server(home, port, workers)
    try:
        startup = wait_healthy(port, proc, 300)
        uvloop.run(load(port, warm, args.concurrency, 600, args.k))
        server = psutil.Process(proc.pid)
        cpu0 = server_cpu_s(server)
        profiler = start_profile(proc.pid, args.max_seconds, profile) if profile else None
        run = uvloop.run(load(port, timed, args.concurrency, args.max_seconds, args.k))
        cpu = server_cpu_s(server) - cpu0
        run["server_cpu_ms_per_request"] = round(cpu * 1000 / run["ok"], 3) if run["ok"] else None
        run["server_rss_mb"] = round(server_rss_mb(server), 1)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C, not on SIGTERM
            _, stderr = profiler.communicate(timeout=60)
            if profile is not None and not profile.exists():
                print(f"  py-spy wrote nothing: {stderr.decode()[-1000:]}")
    finally:
        proc.terminate()  # only the server this script started (uvicorn stops its workers)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    seen = set(warm)
    repeats = sum(1 for i in timed if i in seen or seen.add(i))  # type: ignore[func-returns-value]
    return {
        "workers": workers,
        "ids": how,
        "concurrency": args.concurrency,
        "models": len(downloads),
        "startup_to_health_s": round(startup, 2),
        "repeat_share": round(repeats / len(timed), 3) if timed else None,
        **run,
    }


def render(report: dict[str, Any]) -> None:
    seed = report["seed"]
    seed_ms = seed["latency"]["p50_ms"]
    cells = report["load"]
    first = cells[0]
    rows = [
        [
            f"HFMRS, {c['workers']} process{'es' if c['workers'] > 1 else ''}, ids {c['ids']}",
            c["requests"],
            c["errors"],
            f"{100 * c['repeat_share']:.0f}%",
            c["latency"]["p50_ms"],
            c["latency"]["p90_ms"],
            c["latency"]["p99_ms"],
            c["latency"]["max_ms"],
            c["throughput_rps"],
            c["server_cpu_ms_per_request"],
            c["client_cpu_ms_per_request"],
            c["server_rss_mb"],
        ]
        for c in cells
    ]
    rows.append(
        [
            f"seed, N={seed['n']:,} (in-process, sequential)",
            seed["requests"],
            0,
            None,
            seed_ms,
            None,
            seed["latency"]["p99_ms"],
            seed["latency"]["max_ms"],
            round(1000 / seed_ms, 2) if seed_ms else None,
            None,
            None,
            None,
        ]
    )
    print_table(
        f"GET /v1/models/{{id}}/similar?k=10, {first['concurrency']} closed-loop clients, {first['models']:,} models",
        [
            "server",
            "requests",
            "errors",
            "ids seen before",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "req/s",
            "server CPU ms/req",
            "client CPU ms/req",
            "server RSS MB",
        ],
        rows,
        note="Targets (issue 19): >= 1,000 req/s and p99 < 30 ms at 20 clients. The load generator shares the "
        "machine's cores with the server. 'ids seen before': requests for an id already asked in the run (an "
        "upper bound of the response cache's hits; each worker keeps its own cache). The seed rebuilds its "
        "N x N matrices per request, so its req/s is 1000 / its latency at best.",
    )
    costs = report["in_process"]
    print_table(
        f"CPU per request in one process, no network, {costs['requests']:,} uniform ids (k=10, default method)",
        ["Engine.similar", "the app, a miss (cache off)", "the route's own (app - engine)", "the app, a hit"],
        [[costs["engine_ms"], costs["app_miss_ms"], costs["route_ms"], costs["app_hit_ms"]]],
        note="Issue 19's target: the route adds < 1 ms of CPU to the search and ranking.",
    )
    if report.get("profile"):
        p = report["profile"]
        print_table(
            f"py-spy: server functions by share of {p['samples']:,} samples (inclusive)",
            ["function", "% samples"],
            p["inclusive"],
        )
        print_table("py-spy: leaf functions (self time)", ["function", "% samples"], p["self"])


if __name__ == "__main__":
    raise SystemExit(main())
