"""Cold start: a fresh HFMRS_HOME (optionally a fresh `git clone`) -> the first answer over HTTP.

Two paths, each timed from the first command to the first ``GET /v1/models/gpt2/similar`` answer:

* ``--mode up`` (default): what ``make run`` runs, ``hfmrs up``: build with training, then every
  service (recommender, embedder, ingest, UI) in one process.  ``make`` itself is not called: its
  venv stamp depends on pyproject.toml's mtime, so in a fresh clone it would reinstall packages; the
  venv install is not what this measures (the clone reuses this checkout's .venv, said in the output).
* ``--mode serve``: the lean path, ``hfmrs build --no-train`` then ``hfmrs serve recommender``.

Then what the same first run would cost without the shipped vectors: MiniLM on CPU embeds a sample
of the bundled soups at max_seq_length 128 (and any other ``--seq-lengths``), extrapolated to every
unique soup of the catalog.  model2vec and ONNX Runtime encoders are not measured: their weights
come from the Hub, which is not reachable here.

Full run:  .venv/bin/python benchmarks/cold_start.py --fresh-clone            (make-run path)
           .venv/bin/python benchmarks/cold_start.py --fresh-clone --mode serve
Smoke:     .venv/bin/python benchmarks/cold_start.py --smoke
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, RESULTS, free_port, header, print_table, write_json

QUERY_ID = "gpt2"  # a legacy id: resolving it through its alias is part of the first answer


def run_timed(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return time.perf_counter() - start


def wait_answer(port: int, proc: subprocess.Popen[bytes], deadline: float) -> tuple[float, float, int]:
    """Seconds (from now) until /health is 200 and until the first similar answer; that answer's size."""
    import httpx

    start = time.perf_counter()
    healthy = None
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} before answering")
            try:
                if healthy is None and client.get("/health").status_code == 200:
                    healthy = time.perf_counter() - start
                if healthy is not None:
                    response = client.get(f"/v1/models/{QUERY_ID}/similar", params={"k": 10})
                    response.raise_for_status()
                    return healthy, time.perf_counter() - start, len(response.json()["results"])
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.1)
    raise TimeoutError("no answer before the deadline")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # only the server this script started, by its own handle
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def has_option(hfmrs: list[str], env: dict[str, str], cwd: Path, command: str, option: str) -> bool:
    out = subprocess.run([*hfmrs, command, "--help"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return option in out.stdout


def cold_start(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    cwd, note = REPO, "this checkout"
    env = {**os.environ, "HFMRS_HOME": str(tmp / "home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if args.fresh_clone:
        cwd = tmp / "clone"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(cwd)], check=True, timeout=300)
        head = subprocess.run(["git", "-C", str(cwd), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        # The clone's own code shadows the editable install (PYTHONPATH precedes site-packages); the
        # packages come from this checkout's .venv, so no pip install is timed.
        env["PYTHONPATH"] = str(cwd)
        note = f"fresh git clone of HEAD {head.stdout.strip()} (committed code only), reusing {REPO / '.venv'}"
    if args.snapshot_dir:
        env["HFMRS_SNAPSHOT_DIR"] = str(args.snapshot_dir)
    ports = {name: free_port() for name in ("RECOMMENDER", "EMBEDDER", "INGEST", "UI")}
    env.update({f"HFMRS_{name}_PORT": str(port) for name, port in ports.items()})
    hfmrs = [str(Path(sys.executable).parent / "hfmrs")]  # the console script `make run` ends up calling
    out: dict[str, Any] = {"mode": args.mode, "source": note}
    no_train = args.mode == "serve" and has_option(hfmrs, env, cwd, "build", "--no-train")
    start = time.perf_counter()
    deadline = time.monotonic() + args.timeout
    if args.mode == "serve":
        build_cmd = [*hfmrs, "build", *(["--no-train"] if no_train else [])]
        out["build_cmd"] = "hfmrs build" + (" --no-train" if no_train else "")
        out["build_s"] = round(run_timed(build_cmd, env, cwd, args.timeout), 2)
        server = [*hfmrs, "serve", "recommender", "--port", str(ports["RECOMMENDER"])]
    else:
        server = [*hfmrs, "up"] + ([] if args.ui else ["--no-ui"])
    launched = time.perf_counter()
    proc = subprocess.Popen(server, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health_s, answer_s, results = wait_answer(ports["RECOMMENDER"], proc, deadline)
    finally:
        stop(proc)
    out["server_cmd"] = "hfmrs " + " ".join(server[1:])
    out["server_to_health_s"] = round(health_s, 2)
    out["server_to_first_answer_s"] = round(answer_s, 2)
    out["first_answer_results"] = results
    out["total_to_first_answer_s"] = round(launched - start + answer_s, 2)
    return out


def encoder_cost(sample: int, seq_lengths: list[int], catalog_limit: int | None) -> dict[str, Any]:
    """MiniLM on this CPU: texts/s over a random sample of the bundled soups, extrapolated."""
    import torch
    from common import bundled_catalog, small_catalog

    from hfmrs.embedding import SentenceTransformerEncoder
    from hfmrs.features import soup

    catalog = bundled_catalog() if catalog_limit is None else small_catalog(catalog_limit)
    soups = sorted({soup(r) for r in catalog})
    texts = random.Random(7).sample(soups, min(sample, len(soups)))
    out: dict[str, Any] = {"unique_soups": len(soups), "sample": len(texts), "torch_threads": torch.get_num_threads()}
    rows = []
    for seq in seq_lengths:
        start = time.perf_counter()
        encoder = SentenceTransformerEncoder(device="cpu", max_seq_length=seq)
        load_s = time.perf_counter() - start
        encoder.encode(texts[:8])  # warm-up: first batch pays for lazy initialisation
        start = time.perf_counter()
        encoder.encode(texts)
        seconds = time.perf_counter() - start
        rate = len(texts) / seconds
        tokens = [len(encoder.model.tokenizer(t)["input_ids"]) for t in texts[:500]]
        rows.append(
            {
                "max_seq_length": seq,
                "load_s": round(load_s, 2),
                "texts_per_s": round(rate, 1),
                "mean_tokens": round(sum(tokens) / len(tokens), 1),
                "extrapolated_full_catalog_s": round(len(soups) / rate, 1),
            }
        )
    out["runs"] = rows
    return out


def write_small_snapshots(directory: Path, rows: int) -> Path:
    """The first ``rows`` rows of each bundled snapshot (smoke runs: a real but tiny catalog)."""
    from hfmrs.settings import BUNDLED_DATA

    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted((BUNDLED_DATA / "snapshots").glob("*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as src:
            lines = list(islice(src, rows + 1))
        with gzip.open(directory / path.name, "wt", encoding="utf-8", newline="") as dst:
            dst.writelines(lines)  # the rows have no embedded newlines in their first cells: safe to cut
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["up", "serve"], default="up", help="`hfmrs up` (make run) or build+serve.")
    parser.add_argument("--fresh-clone", action="store_true", help="git clone this repo into a temp dir first.")
    parser.add_argument("--ui", action=argparse.BooleanOptionalAction, default=True, help="`up` with the UI.")
    parser.add_argument("--snapshot-dir", type=Path, help="Snapshots to build from (default: the bundled ones).")
    parser.add_argument("--embed-sample", type=int, default=1000, help="Soups MiniLM embeds for the estimate.")
    parser.add_argument("--seq-lengths", default="128", help="max_seq_length values to time, e.g. 128,256.")
    parser.add_argument("--no-encoder", action="store_true", help="Skip the encoder estimate.")
    parser.add_argument("--timeout", type=float, default=1800, help="Seconds allowed until the first answer.")
    parser.add_argument("--smoke", action="store_true", help="Tiny catalog, serve mode, 16-text encoder sample.")
    parser.add_argument("--out", type=Path, default=RESULTS / "cold_start.json")
    args = parser.parse_args(argv)
    report = header("cold start", args.smoke)
    limit = None
    with tempfile.TemporaryDirectory(prefix="hfmrs-cold-") as tmp_name:
        tmp = Path(tmp_name)
        if args.smoke:
            args.mode, args.embed_sample, limit, args.timeout = "serve", 16, 200, 300
            args.snapshot_dir = write_small_snapshots(tmp / "snapshots", limit)
        report["cold_start"] = cold_start(args, tmp)
        shutil.rmtree(tmp / "home", ignore_errors=True)
    if not args.no_encoder:
        seqs = [int(s) for s in args.seq_lengths.split(",")]
        report["encoder"] = encoder_cost(args.embed_sample, seqs, limit)
    render(report)
    print(f"wrote {write_json(args.out, report)}")
    return 0


def render(report: dict[str, Any]) -> None:
    c = report["cold_start"]
    rows: list[list[Any]] = []
    if "build_s" in c:
        rows.append([c["build_cmd"], c["build_s"]])
    rows += [
        [f"{c['server_cmd']}: start -> /health 200", c["server_to_health_s"]],
        [f"{c['server_cmd']}: start -> first /v1/models/{QUERY_ID}/similar", c["server_to_first_answer_s"]],
        ["TOTAL: first command -> first answer", c["total_to_first_answer_s"]],
    ]
    print_table(
        f"Cold start ({c['mode']}), seconds",
        ["step", "seconds"],
        rows,
        note=f"source: {c['source']}. Target: < 120 s on 2 cores for the bundled catalog (venv install excluded).",
    )
    if "encoder" in report:
        e = report["encoder"]
        print_table(
            f"Without shipped vectors: MiniLM on CPU ({e['torch_threads']} torch threads), {e['sample']} soups sampled",
            ["max_seq_length", "load s", "mean tokens", "texts/s", f"all {e['unique_soups']:,} soups, s"],
            [
                [r["max_seq_length"], r["load_s"], r["mean_tokens"], r["texts_per_s"], r["extrapolated_full_catalog_s"]]
                for r in e["runs"]
            ],
            note="model2vec (static) and ONNX Runtime/int8 encoders: not measured, their weights are on the Hub.",
        )


if __name__ == "__main__":
    raise SystemExit(main())
