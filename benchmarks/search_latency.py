"""Latency of free-text search, in-process, *including the query embedding*: what ``GET /v1/search`` costs
the recommender and the embedder for one need, without the HTTP hops.

For every need of the team's need set (``data/eval/needs``), cycled to ``--queries`` calls: MiniLM on the
CPU embeds the text (one text per call, as the API does), then ``Engine.search`` runs it with each search
method: ``fused`` (the default: understanding, dense + BM25 + purpose/task/language searches, the scorer)
beside ``cosine`` (the one dense query of before, the baseline) and ``bm25``.  Prints p50/p99 of the
embedding, of the search and of both together, per method.  Target: total p99 < 30 ms at 17.5k on 2 cores.

Full run:  .venv/bin/python benchmarks/search_latency.py                 (builds the bundled catalog)
           .venv/bin/python benchmarks/search_latency.py --home /tmp/bh  (an existing build)
Smoke:     .venv/bin/python benchmarks/search_latency.py --smoke
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, header, percentiles, print_table, write_json

from services.common import settle_heap

TARGET_P99_MS = 30.0


def open_engine(args: argparse.Namespace, tmp: Path) -> Any:
    from hfmrs.engine import Engine
    from hfmrs.pipeline import build
    from hfmrs.settings import Settings

    if args.home:
        return Engine.open(Settings(home=args.home, _env_file=None))
    extra: dict[str, Any] = {}
    if args.smoke:
        from cold_start import write_small_snapshots

        extra["snapshot_dir"] = write_small_snapshots(tmp / "snapshots", 200)
    settings = Settings(home=tmp / "home", _env_file=None, **extra)
    build(settings, show_progress=False)
    return Engine.open(settings)


def needs_texts() -> list[str]:
    from hfmrs.evaluation.needs import parse_needs
    from hfmrs.settings import BUNDLED_DATA

    path = BUNDLED_DATA / "eval" / "needs" / "needs.txt"
    return [text for text, _, _ in parse_needs(path.read_text(encoding="utf-8").splitlines())]


def measure(engine: Any, encoder: Any, texts: list[str], method: str, calls: int) -> dict[str, Any]:
    """p50/p99 (ms) of embedding, search and both, over ``calls`` calls cycling through ``texts``."""
    embed_s, search_s, total_s = [], [], []
    for text in itertools.islice(itertools.cycle(texts), calls):
        start = time.perf_counter()
        vector = encoder.encode([text])[0].tolist()
        embedded = time.perf_counter()
        engine.search(text, vector, k=10, method=method)
        end = time.perf_counter()
        embed_s.append(embedded - start)
        search_s.append(end - embedded)
        total_s.append(end - start)
    return {
        "method": method,
        "calls": calls,
        "embed": percentiles(embed_s),
        "search": percentiles(search_s),
        "total": percentiles(total_s),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="An HFMRS_HOME with a build (default: build the bundled one).")
    parser.add_argument("--queries", type=int, default=2000, help="Calls per method (the needs, cycled).")
    parser.add_argument("--methods", default="fused,cosine,bm25")
    parser.add_argument(
        "--runtime", choices=["auto", "onnx", "torch"], help="Query encoder runtime (default: settings)."
    )
    parser.add_argument("--smoke", action="store_true", help="A 200-row catalog and 20 calls: numbers mean nothing.")
    parser.add_argument("--out", type=Path, default=RESULTS / "search_latency.json")
    args = parser.parse_args(argv)
    report = header("search latency", args.smoke)
    from hfmrs.embedding import load_encoder
    from hfmrs.settings import Settings

    calls = 20 if args.smoke else args.queries
    defaults = Settings(_env_file=None)
    with tempfile.TemporaryDirectory(prefix="hfmrs-search-") as tmp:
        # the query encoder the embedder service runs (HFMRS_ENCODER_RUNTIME; auto: ONNX Runtime on CPU)
        runtime = args.runtime or defaults.encoder_runtime
        encoder = load_encoder(
            defaults.encoder,
            device="cpu",
            max_seq_length=defaults.encoder_max_seq_length,
            runtime=runtime,
            cache_dir=Path(tmp) / "onnx",
        )
        report["encoder_runtime"] = type(encoder).__name__
        engine = open_engine(args, Path(tmp))
        try:
            texts = needs_texts()
            settle_heap()
            for method in args.methods.split(","):  # warm-up: caches, lazy imports, the encoder's first call
                measure(engine, encoder, texts, method, min(len(texts), calls))
            report["models"] = len(engine.ids)
            report["results"] = [measure(engine, encoder, texts, m, calls) for m in args.methods.split(",")]
        finally:
            engine.close()
    render(report)
    print(f"wrote {write_json(args.out, report)}")
    return 0


def render(report: dict[str, Any]) -> None:
    rows = [
        [r["method"], r["embed"]["p50_ms"], r["embed"]["p99_ms"], r["search"]["p50_ms"], r["search"]["p99_ms"],
         r["total"]["p50_ms"], r["total"]["p99_ms"]]
        for r in report["results"]
    ]  # fmt: skip
    print_table(
        f"Free-text search at {report['models']:,} models, in-process, ms ({report['results'][0]['calls']} calls "
        f"each; query encoder: {report['encoder_runtime']})",
        ["method", "embed p50", "embed p99", "search p50", "search p99", "total p50", "total p99"],
        rows,
        note=f"total = MiniLM embedding of the need (CPU) + Engine.search, k=10. Target p99 < {TARGET_P99_MS:g} ms.",
    )


if __name__ == "__main__":
    raise SystemExit(main())
