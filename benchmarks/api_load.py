"""HTTP load test of the recommender: ``GET /v1/models/{id}/similar?k=10``, 50 concurrent clients.

Starts ``hfmrs serve recommender`` as a subprocess on a free 127.0.0.1 port over a built HFMRS_HOME
(``--home``, else the bundled catalog is built into a temp home first), waits for /health, then
drives a fixed number of requests over random ids from ``--concurrency`` asyncio clients (httpx),
bounded by ``--requests`` and ``--max-seconds``.  Prints p50/p90/p99/max latency, throughput, errors
and the server's CPU time per request (the client shares the 2 cores, so CPU/request tells the
server's own cost).  Beside it: the seed's per-request approach (rebuild N x N matrices in every
request) for a few requests at N = 10k, in-process.

One server process only: Qdrant Edge holds a lock on the shard's WAL, so a second process (e.g.
``uvicorn --workers 2``) cannot open the same build ("Can't init WAL: WouldBlock"); several workers
would each need their own copy of the build directory.

``--profile`` samples the server with py-spy during the run (install it outside the venv:
``pip install --target /tmp/pyspy py-spy``; found on PATH or in /tmp/pyspy/bin) and prints the
functions with the most samples.

Full run:  .venv/bin/python benchmarks/api_load.py --home /tmp/bench-home      (after `hfmrs build`)
           .venv/bin/python benchmarks/api_load.py                              (builds the bundled catalog)
Smoke:     .venv/bin/python benchmarks/api_load.py --smoke
"""

from __future__ import annotations

import argparse
import asyncio
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


def model_ids(home: Path) -> list[str]:
    from hfmrs.ids import IdIndex
    from hfmrs.store.builds import ID_INDEX_DIR

    build_id = (home / "CURRENT").read_text().strip()
    return list(IdIndex.load(home / "builds" / build_id / ID_INDEX_DIR))


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HFMRS_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [
        str(Path(sys.executable).parent / "hfmrs"),
        "serve",
        "recommender",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


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


async def load(
    port: int, ids: list[str], requests: int, concurrency: int, max_seconds: float, k: int
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: Counter[str] = Counter()
    issued = 0
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < requests and time.perf_counter() < deadline:
            issued += 1  # asyncio is single-threaded: no lock needed between awaits
            model_id = random.choice(ids)
            start = time.perf_counter()
            try:
                response = await client.get(f"/v1/models/{model_id}/similar", params={"k": k})
                if response.status_code != 200:
                    errors[f"HTTP {response.status_code}"] += 1
                    continue
                response.json()
            except httpx.HTTPError as err:
                errors[type(err).__name__] += 1
                continue
            latencies.append(time.perf_counter() - start)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30.0) as client:
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return {
        "requests": issued,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "wall_s": round(wall, 3),
        "throughput_rps": round(len(latencies) / wall, 1) if wall else None,
        "latency": percentiles(latencies),
    }


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
    parser.add_argument("--requests", type=int, default=5000, help="Requests in total (bounded).")
    parser.add_argument("--concurrency", type=int, default=50, help="Concurrent clients.")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="Time cap of the load phase.")
    parser.add_argument("--warmup", type=int, default=200, help="Untimed requests first.")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed-n", type=int, default=10_000, help="N of the seed comparison (<= 10000).")
    parser.add_argument("--seed-requests", type=int, default=5, help="Seed requests (each rebuilds N x N).")
    parser.add_argument("--profile", action="store_true", help="Sample the server with py-spy during the run.")
    parser.add_argument("--smoke", action="store_true", help="Tiny catalog, 200 requests, 10 clients.")
    parser.add_argument("--out", type=Path, default=RESULTS / "api_load.json")
    args = parser.parse_args(argv)
    real_limit = None
    if args.smoke:
        args.requests, args.concurrency, args.warmup, args.max_seconds = 200, 10, 20, 30.0
        args.seed_n, args.seed_requests, real_limit = 600, 2, 300
    report = header("API load", args.smoke)
    with tempfile.TemporaryDirectory(prefix="hfmrs-load-") as tmp_name:
        tmp = Path(tmp_name)
        home = ensure_home(args, tmp)
        ids = model_ids(home)
        port = free_port()
        proc = start_server(home, port)
        try:
            import psutil

            report["startup_to_health_s"] = round(wait_healthy(port, proc, 300), 2)
            random.seed(7)
            asyncio.run(load(port, ids, args.warmup, min(args.concurrency, 10), 60, args.k))
            server = psutil.Process(proc.pid)
            cpu0 = sum(server.cpu_times()[:2])
            profiler = start_profile(proc.pid, args.max_seconds, tmp / "profile.txt") if args.profile else None
            run = asyncio.run(load(port, ids, args.requests, args.concurrency, args.max_seconds, args.k))
            run["server_cpu_ms_per_request"] = (
                round((sum(server.cpu_times()[:2]) - cpu0) * 1000 / run["ok"], 3) if run["ok"] else None
            )
            run["server_rss_mb"] = round(server.memory_info().rss / 2**20, 1)
            report["load"] = {"concurrency": args.concurrency, "models": len(ids), **run}
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C, not on SIGTERM
                _, stderr = profiler.communicate(timeout=60)
                raw = tmp / "profile.txt"
                if not raw.exists():
                    print(f"  py-spy wrote nothing: {stderr.decode()[-1000:]}")
                else:
                    report["profile"] = summarize_profile(raw)
                    shutil.copy(raw, args.out.with_suffix(".profile.txt"))
        finally:
            proc.terminate()  # only the server this script started
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    report["seed"] = seed_compare(args.seed_n, args.seed_requests, real_limit)
    render(report)
    print(f"wrote {write_json(args.out, report)}")
    return 0


def render(report: dict[str, Any]) -> None:
    run, seed = report["load"], report["seed"]
    lat = run["latency"]
    seed_ms = seed["latency"]["p50_ms"]
    print_table(
        f"GET /v1/models/{{id}}/similar?k=10, {run['concurrency']} concurrent clients, {run['models']:,} models",
        ["approach", "requests", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms", "req/s", "server CPU ms/req"],
        [
            [
                "HFMRS (1 uvicorn process)",
                run["requests"],
                run["errors"],
                lat["p50_ms"],
                lat["p90_ms"],
                lat["p99_ms"],
                lat["max_ms"],
                run["throughput_rps"],
                run["server_cpu_ms_per_request"],
            ],
            [
                f"seed, N={seed['n']:,} (in-process, sequential)",
                seed["requests"],
                0,
                seed_ms,
                None,
                seed["latency"]["p99_ms"],
                seed["latency"]["max_ms"],
                round(1000 / seed_ms, 2) if seed_ms else None,
                None,
            ],
        ],
        note="Target: p99 < 20 ms, zero errors. The load generator shares the machine's cores with the server. "
        "The seed rebuilds its N x N matrices per request, so its req/s is 1000 / its latency at best.",
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
