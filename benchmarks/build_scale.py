"""Build time per stage, peak memory and recommender start-up at N = bundled 17.5k, 100k, 1M.

Each N is built in its own subprocess so ``ru_maxrss`` is that build's peak, and start-up is timed in
another fresh subprocess (cold Python, warm page cache): imports, ``Engine.open``, the first
``similar``, ``LiveEngine``'s first request, and the recommender app's first HTTP answer in-process
(FastAPI TestClient, no port).  The bundled N is the real path (snapshots, shipped vectors, MiniLM
loaded); larger N are synthetic catalogs recombined from real rows, written through
``hfmrs.pipeline.build`` with a look-up encoder, so their "embeddings" stage is bookkeeping only (a
GPU embeds 1M soups in minutes: see gpu_embed.py).  Per-model columns show whether growth is linear.

Full run:  .venv/bin/python benchmarks/build_scale.py                  (~30-60 min at 1M on 2 cores)
           .venv/bin/python benchmarks/build_scale.py --n bundled,100k  (skip 1M)
           --keep /tmp/hfmrs-scale keeps the homes (then: query_latency.py --home /tmp/hfmrs-scale/n1000000)
Smoke:     .venv/bin/python benchmarks/build_scale.py --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    RESULTS,
    MemorySampler,
    header,
    parse_n,
    peak_rss_mb,
    print_table,
    rss_mb,
    synthetic_build,
    write_json,
)

STAGES = ["load encoder", "catalog", "features", "embeddings", "qdrant upsert", "train", "qdrant index"]


def dir_mb(path: Path) -> float:
    """Disk actually used (allocated blocks): Qdrant preallocates sparse WAL and mmap files."""
    return round(sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def build_worker(n: int | str, home: Path, real_limit: int | None, train: bool) -> dict[str, Any]:
    """Runs in the child: one build, its stage timings and this process's peak RSS."""
    with MemorySampler() as memory:
        out = _build(n, home, real_limit, train)
    return {**out, "peak_anon_mb": memory.peak_anon_mb, "peak_file_mb": memory.peak_file_mb}


def _build(n: int | str, home: Path, real_limit: int | None, train: bool) -> dict[str, Any]:
    from hfmrs.settings import Settings

    start = time.perf_counter()
    trainer = None
    if n == "bundled":
        from hfmrs.pipeline import build

        settings = Settings(home=home, _env_file=None)
        if train:
            from hfmrs.training import make_trainer

            trainer = make_trainer(settings)
        before = rss_mb()
        result = build(settings, trainer=trainer, show_progress=False, force=True)
        extra = {"build_total": round(time.perf_counter() - start, 3)}
    else:
        if train:
            from hfmrs.training import make_trainer

            trainer = make_trainer(Settings(home=home, _env_file=None))
        # Synthesis happens inside synthetic_build before the build: record RSS at the boundary.
        result, extra = synthetic_build(home, int(n), trainer=trainer, real_limit=real_limit, force=True)
        before = None
    return {
        "models": result.models,
        "timings": result.timings,
        **extra,
        "untimed_s": round(extra["build_total"] - sum(result.timings.values()), 3),
        "rss_before_build_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "disk_mb": dir_mb(home / "builds"),
    }


def startup_worker(home: Path) -> dict[str, Any]:
    """Runs in a fresh child: how long until the recommender can answer."""
    t0 = time.perf_counter()
    from hfmrs.engine import Engine
    from hfmrs.settings import Settings
    from services.recommender.live import LiveEngine

    out: dict[str, Any] = {"import_s": round(time.perf_counter() - t0, 3)}
    settings = Settings(home=home, vector_cache=home / "none", _env_file=None, embedder_url="http://127.0.0.1:9")
    mark = time.perf_counter()
    engine = Engine.open(settings)
    out["engine_open_s"] = round(time.perf_counter() - mark, 3)
    model_id = engine.ids.most_downloaded(1)[0]
    mark = time.perf_counter()
    engine.similar(model_id, k=10)
    out["first_similar_s"] = round(time.perf_counter() - mark, 4)
    mark = time.perf_counter()
    engine.similar(model_id, k=10)
    out["second_similar_s"] = round(time.perf_counter() - mark, 4)
    out["rss_after_open_mb"] = rss_mb()
    engine.close()

    mark = time.perf_counter()
    live = LiveEngine(settings)
    with live.acquire() as eng:
        eng.similar(model_id, k=10)
    out["live_first_request_s"] = round(time.perf_counter() - mark, 3)
    live.close()

    mark = time.perf_counter()
    from fastapi.testclient import TestClient

    from services.recommender.app import create_app

    client = TestClient(create_app(settings))
    response = client.get(f"/v1/models/{model_id}/similar", params={"k": 10})
    out["app_first_answer_s"] = round(time.perf_counter() - mark, 3)
    out["app_status"] = response.status_code
    out["total_to_first_answer_s"] = round(time.perf_counter() - t0, 3)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


CGROUP_ROOT = Path("/sys/fs/cgroup/memory")


def memory_cgroup(limit_gb: float) -> Path | None:
    """A cgroup-v1 memory group capped at ``limit_gb`` (page cache included, reclaimed under the cap),
    or None where the machine has no writable memory controller."""
    group = CGROUP_ROOT / f"hfmrs-bench-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(str(int(limit_gb * 2**30)))
    except OSError as err:
        print(f"  (no memory cgroup: {err}; running without a memory cap)")
        return None
    return group


def cgroup_report(group: Path) -> dict[str, Any]:
    stat = dict(line.split() for line in (group / "memory.stat").read_text().splitlines())
    return {
        "cgroup_limit_mb": round(int((group / "memory.limit_in_bytes").read_text()) / 2**20),
        "cgroup_max_usage_mb": round(int((group / "memory.max_usage_in_bytes").read_text()) / 2**20),
        "cgroup_failcnt": int((group / "memory.failcnt").read_text()),
        "cgroup_oom_kills": int(stat.get("oom_kill", 0)) if "oom_kill" in stat else None,
    }


def run_child(args: list[str], timeout: float, group: Path | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    procs = None if group is None else group / "cgroup.procs"

    def enter_group() -> None:  # in the child, before exec: the cap covers the child only
        if procs is not None:
            procs.write_text(str(os.getpid()))

    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ}, preexec_fn=enter_group
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")][-1]
    return json.loads(last)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="bundled,100k,1M", help="Sizes: 'bundled' and/or counts (100k, 1M).")
    parser.add_argument("--train", action="store_true", help="Also run training (k-means, GNN): slow at 1M.")
    parser.add_argument("--keep", type=Path, help="Keep the built homes under this folder (n<N>/).")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="Seconds allowed per child process.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes for CI.")
    parser.add_argument(
        "--memory-limit-gb",
        type=float,
        help="Run each build inside a memory cgroup capped at this size (Linux cgroup v1, root): "
        "proof that the build fits, since peak RSS also counts reclaimable mapped file pages.",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "build_scale.json")
    # Child modes (internal): one build, or one start-up, in a fresh process.
    parser.add_argument("--worker", choices=["build", "startup"], help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--real-limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "build":
        print(json.dumps(build_worker(parse_n(args.n), args.home, args.real_limit, args.train)))
        return 0
    if args.worker == "startup":
        print(json.dumps(startup_worker(args.home)))
        return 0

    limit: list[str] = []
    if args.smoke:
        args.n, limit = "400,1200", ["--real-limit", "300"]
    sizes = [parse_n(x) for x in args.n.split(",")]
    report = header("build scale", args.smoke)
    report["results"] = []
    root = args.keep or Path(tempfile.mkdtemp(prefix="hfmrs-scale-"))
    try:
        for n in sizes:
            home = root / f"n{n}"
            shutil.rmtree(home, ignore_errors=True)
            print(f"  building N={n} ...", flush=True)
            extra = ["--train"] if args.train else []
            group = memory_cgroup(args.memory_limit_gb) if args.memory_limit_gb else None
            try:
                built = run_child(
                    ["--worker", "build", "--n", str(n), "--home", str(home), *limit, *extra], args.timeout, group
                )
                if group is not None:
                    built.update(cgroup_report(group))
            finally:
                if group is not None:
                    group.rmdir()
            print(f"  start-up N={n} ...", flush=True)
            startup = run_child(["--worker", "startup", "--home", str(home)], args.timeout)
            report["results"].append({"n": n, "build": built, "startup": startup})
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    render(report)
    print(f"wrote {write_json(args.out, report)}")
    return 0


def render(report: dict[str, Any]) -> None:
    rows = []
    for r in report["results"]:
        b, s = r["build"], r["startup"]
        t = b["timings"]
        models = b["models"]
        rows.append(
            [
                f"bundled {models:,}" if r["n"] == "bundled" else f"{models:,} syn",
                t.get("load encoder"),
                t.get("catalog"),
                t.get("features"),
                t.get("embeddings"),
                t.get("qdrant upsert"),
                t.get("train"),
                t.get("qdrant index"),
                b["untimed_s"],
                b["build_total"],
                round(b["build_total"] / models * 1e6, 1),
                b["peak_rss_mb"],
                b.get("peak_anon_mb"),
                round(b.get("peak_anon_mb", b["peak_rss_mb"]) * 1024 / models, 1),
                b.get("cgroup_limit_mb"),
                b["disk_mb"],
                s["engine_open_s"],
                s["total_to_first_answer_s"],
                s["rss_after_open_mb"],
            ]
        )
    print_table(
        "Build time per stage (s), peak RSS and start-up",
        [
            "N",
            "encoder",
            "catalog",
            "features",
            "embeddings",
            "upsert",
            "train",
            "index",
            "untimed",
            "build total s",
            "µs/model",
            "peak RSS MB",
            "peak heap MB",
            "heap KB/model",
            "ran under cap MB",
            "disk MB",
            "Engine.open s",
            "start→1st answer s",
            "serving RSS MB",
        ],
        rows,
        note="untimed = outside StageTimer: input hash (+ catalog digest for synthetic catalogs), shard creation "
        "with its payload indexes, id index, publish. "
        "start→1st answer: fresh process, imports + Engine.open + recommender app + first /similar (TestClient). "
        "peak RSS (ru_maxrss) includes memory-mapped segment and WAL pages the kernel can drop; peak heap = "
        "sampled RssAnon; 'ran under cap' = the build completed inside a memory cgroup of that size "
        "(--memory-limit-gb; page cache counted and reclaimed). "
        "Targets at 1M: peak RSS < 6 GB, start-up < 5 s. Flat µs/model and KB/model = O(N·d) growth.",
    )


if __name__ == "__main__":
    raise SystemExit(main())
