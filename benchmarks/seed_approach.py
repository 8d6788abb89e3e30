"""The seed's serving approach, re-implemented for comparison, against HFMRS at the same N.

The seed answered every request by rebuilding its whole model: a pandas frame of the catalog, a text
"soup" per row, the full N x N cosine matrix (sklearn ``cosine_similarity``) and an N x N "Jaccard"
matrix over the embeddings binarised at 0, then ``sorted(list(enumerate(row)), key=..., reverse=True)``
in Python over the query's row.  Here the embeddings are given to it for free (the shipped MiniLM
vectors, synthetic ones past the real rows) so only the serving approach is timed; the Jaccard matrix
is computed with a matrix product, which is faster than the seed's pairwise loop: the ratios below are
therefore lower bounds.  N x N float64 matrices: 0.8 GB each at N = 10k, so N is capped at 10k.

Full run:  .venv/bin/python benchmarks/seed_approach.py
Smoke:     .venv/bin/python benchmarks/seed_approach.py --smoke
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    RESULTS,
    header,
    peak_rss_mb,
    percentiles,
    print_table,
    synthetic_build,
    synthetic_catalog,
    time_calls,
    write_json,
)

MAX_N = 10_000


class SeedModel:
    """The seed's state: a frame and the embeddings; everything else is rebuilt per request."""

    def __init__(self, records: list[Any], vectors: np.ndarray):
        import pandas as pd

        self.frame = pd.DataFrame(
            {
                "modelId": [r.id for r in records],
                "author": [r.author for r in records],
                "pipeline_tag": [r.pipeline_tag for r in records],
                "library_name": [r.library for r in records],
                "tags": [r.tags for r in records],
                "architectures": [r.architectures for r in records],
                "model_type": [r.model_type for r in records],
                "datasets": [r.datasets for r in records],
                "downloads": [r.downloads for r in records],
            }
        )
        # The seed kept embeddings as Python lists in the frame, so numpy read them back as float64.
        self.embeddings = vectors.astype(np.float64)

    def request(self, model_id: str, k: int = 10, method: str = "cosine", timings: dict[str, float] | None = None):
        """One API request, as the seed served it: rebuild, then sort one row in Python."""
        from sklearn.metrics.pairwise import cosine_similarity

        t = timings if timings is not None else {}
        start = time.perf_counter()
        df = self.frame.copy()
        df["soup"] = df.apply(
            lambda row: " ".join(
                [
                    str(row["pipeline_tag"] or ""),
                    str(row["library_name"] or ""),
                    " ".join(row["tags"]),
                    " ".join(row["architectures"]),
                    str(row["model_type"] or ""),
                    " ".join(row["datasets"]),
                    str(row["author"] or ""),
                ]
            ),
            axis=1,
        )
        t["frame+soup"] = time.perf_counter() - start
        mark = time.perf_counter()
        cosine = cosine_similarity(self.embeddings)
        t["cosine NxN"] = time.perf_counter() - mark
        mark = time.perf_counter()
        binary = (self.embeddings > 0).astype(np.float32)
        inter = binary @ binary.T
        sizes = binary.sum(axis=1)
        union = sizes[:, None] + sizes[None, :] - inter
        jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0).astype(np.float64)
        del inter, union, binary
        t["jaccard NxN"] = time.perf_counter() - mark
        mark = time.perf_counter()
        idx = int(df.index[df["modelId"] == model_id][0])
        matrix = cosine if method == "cosine" else jaccard
        # The seed's idiom, kept as it was: a list of N (index, score) tuples sorted in Python.
        scores = sorted(list(enumerate(matrix[idx])), key=lambda x: x[1], reverse=True)
        top = [(df["modelId"][i], float(s)) for i, s in scores if i != idx][:k]
        t["python sort"] = time.perf_counter() - mark
        t["total"] = time.perf_counter() - start
        return top


def seed_requests(n: int, requests: int, real_limit: int | None = None, seed: int = 7) -> dict[str, Any]:
    records, vectors = synthetic_catalog(n, real_limit=real_limit)
    model = SeedModel(records, vectors)
    rng = random.Random(seed)
    runs: list[dict[str, float]] = []
    for _ in range(requests):
        timings: dict[str, float] = {}
        model.request(records[rng.randrange(n)].id, timings=timings)
        runs.append(timings)
        gc.collect()  # the seed's process freed its matrices between requests too
    mean = {key: round(float(np.mean([r[key] for r in runs])) * 1000, 1) for key in runs[0]}
    return {
        "n": n,
        "requests": requests,
        "mean_ms": mean,
        "latency": percentiles([r["total"] for r in runs]),
        "nxn_matrix_mb": round(n * n * 8 / 2**20, 1),
        "peak_rss_mb": peak_rss_mb(),
    }


def hfmrs_requests(n: int, queries: int, home: Path, real_limit: int | None = None, seed: int = 7) -> dict[str, Any]:
    """The same question through HFMRS: a synthetic build of N models, Engine.similar per request."""
    from hfmrs.engine import Engine
    from hfmrs.settings import Settings

    _, extra = synthetic_build(home, n, real_limit=real_limit)
    engine = Engine.open(Settings(home=home, vector_cache=home / "no-shipped-vectors", _env_file=None))
    try:
        ids = list(engine.ids)
        rng = random.Random(seed)
        sample = [rng.choice(ids) for _ in range(queries)]
        out: dict[str, Any] = {"build_s": extra["build_total"]}
        for method in ("cosine", "jaccard"):
            for model_id in sample[:20]:  # warm-up: first queries page the shard in
                engine.similar(model_id, k=10, method=method)
            out[method] = percentiles(time_calls(lambda m, method=method: engine.similar(m, 10, method), sample))
        return out
    finally:
        engine.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="2500,5000,10000", help="Catalog sizes, comma-separated (each <= 10000).")
    parser.add_argument("--requests", type=int, default=3, help="Seed requests per N (each rebuilds everything).")
    parser.add_argument("--queries", type=int, default=1000, help="HFMRS queries per N and method.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes for CI: N=500, 2 requests.")
    parser.add_argument("--out", type=Path, default=RESULTS / "seed_approach.json")
    args = parser.parse_args(argv)
    limit = None
    if args.smoke:
        args.n, args.requests, args.queries, limit = "300,600", 2, 50, 300
    sizes = [int(x) for x in args.n.split(",")]
    if any(n > MAX_N for n in sizes):
        parser.error(f"N above {MAX_N} needs N x N float64 matrices of {MAX_N**2 * 8 / 2**30:.1f}+ GB each")
    report = header("seed approach vs HFMRS", args.smoke)
    report["results"] = []
    with tempfile.TemporaryDirectory(prefix="hfmrs-seed-bench-") as tmp:
        for n in sizes:
            seed = seed_requests(n, args.requests, limit)
            ours = hfmrs_requests(n, args.queries, Path(tmp) / f"n{n}", limit)
            report["results"].append({"n": n, "seed": seed, "hfmrs": ours})
    rows = []
    for r in report["results"]:
        s, h = r["seed"], r["hfmrs"]
        seed_ms = s["latency"]["p50_ms"]
        rows.append(
            [
                r["n"],
                seed_ms,
                s["mean_ms"]["frame+soup"],
                s["mean_ms"]["cosine NxN"],
                s["mean_ms"]["jaccard NxN"],
                s["mean_ms"]["python sort"],
                s["nxn_matrix_mb"] * 2,
                h["cosine"]["p50_ms"],
                h["jaccard"]["p50_ms"],
                round(seed_ms / h["cosine"]["p50_ms"]) if h["cosine"]["p50_ms"] else None,
            ]
        )
    print_table(
        "Seed (per-request rebuild) vs HFMRS Engine.similar, k=10",
        [
            "N",
            "seed ms/request",
            "frame+soup ms",
            "cosine NxN ms",
            "jaccard NxN ms",
            "python sort ms",
            "NxN matrices MB",
            "HFMRS cosine p50 ms",
            "HFMRS jaccard p50 ms",
            "seed / HFMRS cosine",
        ],
        rows,
        note="Seed: mean of its requests (embeddings given for free; Jaccard by matmul, faster than the seed's). "
        "HFMRS: in-process Engine.similar over a synthetic build of the same N.",
    )
    print(f"wrote {write_json(args.out, report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
