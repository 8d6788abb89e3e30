"""Query latency of similar(id), in-process: every method, with and without filters, and at 1M.

Three parts, each printed as a table and written to JSON:

1. **engine**: ``Engine.similar(id, k)`` per method the build offers (cosine, jaccard, bm25, and
   kmeans/gnn/hybrid when trained) x filter (none, the query's pipeline_tag, min_downloads >= 1000,
   both): p50/p99 over ``--queries`` random ids (same ids for every cell), plus recall@10 of cosine
   against exact search.
2. **store**: one raw Qdrant Edge query (nearest k+1 on `text`, Jaccard's 1000 `tokens` candidates)
   with the full payload vs only the fields the engine reads: how much of a request is payload.
3. **direct** (``--direct``): Qdrant Edge driven directly at N (default 1M synthetic points with
   realistic neighbourhoods): HNSW float32, HNSW + int8 scalar quantization with rescoring, HNSW +
   binary quantization with rescoring; build time, p50/p99 (unfiltered and filtered) and recall@10
   against exact numpy top-k.  This part talks to qdrant_edge itself; HFMRS builds get the int8 variant
   with ``HFMRS_TEXT_QUANTIZATION=int8`` (then parts 1 and 2 measure it through the engine).

Full runs (see benchmarks/README.md):
  .venv/bin/python benchmarks/query_latency.py --train                 # bundled 17.5k, all methods
  .venv/bin/python benchmarks/query_latency.py --direct --direct-only --n 1M --out \
      benchmarks/results/query_latency_1m.json                           # HNSW / SQ / BQ at 1M
Smoke:  .venv/bin/python benchmarks/query_latency.py --smoke
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from services.common import settle_heap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    RESULTS,
    Stopwatch,
    header,
    parse_n,
    peak_rss_mb,
    percentiles,
    print_table,
    rss_mb,
    synthetic_build,
    synthetic_catalog,
    time_calls,
    write_json,
)

FILTER_MIN_DOWNLOADS = 1000


# -- 1. engine ---------------------------------------------------------------------------------------
def open_or_build(args: argparse.Namespace, tmp: Path) -> tuple[Any, dict[str, Any]]:
    """An Engine over ``--home``, or over a build made now (bundled or synthetic)."""
    from hfmrs.engine import Engine
    from hfmrs.settings import Settings

    built: dict[str, Any] = {}
    if args.home:
        settings = Settings(home=args.home, _env_file=None)
    elif args.n == "bundled":
        from hfmrs.pipeline import build

        settings = Settings(home=tmp / "bundled", _env_file=None)
        trainer = None
        if args.train:
            from hfmrs.training import make_trainer

            trainer = make_trainer(settings)
        result = build(settings, trainer=trainer, show_progress=False)
        built = {"build_timings": result.timings}
    else:
        settings = Settings(home=tmp / f"n{args.n}", vector_cache=tmp / "none", _env_file=None)
        trainer = None
        if args.train:
            from hfmrs.training import make_trainer

            trainer = make_trainer(settings)
        result, extra = synthetic_build(settings.home, int(args.n), trainer=trainer, real_limit=args.real_limit)
        built = {"build_timings": {**result.timings, **extra}}
    return Engine.open(settings), built


def id_tags(engine: Any) -> dict[str, str | None]:
    """model id -> pipeline_tag, read from the store's payloads (two fields, in batches)."""
    return {p.id: p.payload.get("pipeline_tag") for p in engine.store.scroll(fields=["pipeline_tag"])}


def engine_bench(engine: Any, args: argparse.Namespace) -> dict[str, Any]:
    from hfmrs.filters import Filters

    tags = id_tags(engine)
    ids = sorted(tags)
    common_tag = max(set(t for t in tags.values() if t), key=list(tags.values()).count, default=None)
    rng = random.Random(args.seed)
    sample = [rng.choice(ids) for _ in range(args.queries)]
    variants: dict[str, Any] = {
        "none": lambda m: None,
        "pipeline_tag": lambda m: Filters(pipeline_tag=tags.get(m) or common_tag),
        f"min_downloads>={FILTER_MIN_DOWNLOADS}": lambda m: Filters(min_downloads=FILTER_MIN_DOWNLOADS),
        "tag+downloads": lambda m: Filters(pipeline_tag=tags.get(m) or common_tag, min_downloads=FILTER_MIN_DOWNLOADS),
    }
    methods = [m for m in (args.methods.split(",") if args.methods else engine.methods) if m in engine.methods]
    cells = []
    for method in methods:
        for name, make_filter in variants.items():
            if name != "none" and args.no_filters:
                continue

            def call(model_id: str, method: str = method, make_filter: Any = make_filter) -> None:
                engine.similar(model_id, k=args.k, method=method, filters=make_filter(model_id))

            time_calls(call, sample[: args.warmup])  # page the shard in; not counted
            samples = time_calls(call, sample, max_seconds=args.max_seconds)
            cells.append({"method": method, "filter": name, **percentiles(samples)})
            print(f"  {method:8s} {name:22s} p50 {cells[-1]['p50_ms']:.3f} ms  p99 {cells[-1]['p99_ms']:.3f} ms")
    return {"methods": methods, "queries": args.queries, "k": args.k, "cells": cells, "models": len(ids)}


def engine_recall(engine: Any, args: argparse.Namespace) -> dict[str, Any]:
    """recall@k of the cosine method (HNSW through the engine) against exact search in the same shard."""
    import qdrant_edge as qe

    from hfmrs.filters import Filters
    from hfmrs.store.base import TEXT
    from hfmrs.store.edge import edge_filter

    shard = getattr(engine.store, "_shard", None)
    if shard is None or "cosine" not in engine.methods:
        return {}
    rng = random.Random(args.seed + 1)
    ids = sorted(id_tags(engine))
    hits = total = 0
    for model_id in (rng.choice(ids) for _ in range(args.recall_queries)):
        got = {r.id for r in engine.similar(model_id, k=args.k, method="cosine", collapse=False).results}
        vector = engine.store.retrieve([model_id], with_vectors=[TEXT])[0].vectors[TEXT]
        exact = shard.query(
            qe.QueryRequest(
                limit=args.k,
                query=qe.Query.Nearest([float(x) for x in vector], using=TEXT),
                filter=edge_filter(Filters().with_exclude(model_id)),
                params=qe.SearchParams(exact=True),
                with_payload=["id"],
            )
        )
        want = {p.payload["id"] for p in exact}
        hits += len(got & want)
        total += len(want)
    return {"queries": args.recall_queries, f"recall@{args.k}": round(hits / total, 4) if total else None}


# -- 2. store: what the payload costs ---------------------------------------------------------------
ENGINE_FIELDS = ["id", "downloads", "likes", "pipeline_tag", "library", "last_modified", "download_velocity"]


def store_bench(engine: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    import qdrant_edge as qe

    from hfmrs.features import sparse_tokens
    from hfmrs.store.base import TEXT, TOKENS

    shard = getattr(engine.store, "_shard", None)
    if shard is None:
        return []
    rng = random.Random(args.seed + 2)
    ids = sorted(id_tags(engine))
    points = engine.store.retrieve([rng.choice(ids) for _ in range(min(args.queries, 2000))], with_vectors=[TEXT])
    dense = [[float(x) for x in p.vectors[TEXT]] for p in points]
    sparse = [sparse_tokens(p.payload.get("tokens", [])) for p in points]
    rows = []
    for what, payload in (("full payload", True), ("engine fields", [*ENGINE_FIELDS, "tokens"]), ("no payload", False)):
        for name, make in (
            (f"text nearest {args.k + 1}", lambda i: qe.Query.Nearest(dense[i], using=TEXT)),
            ("tokens 1000 (jaccard pool)", lambda i: qe.Query.Nearest(qe.SparseVector(*sparse[i]), using=TOKENS)),
        ):
            limit = args.k + 1 if name.startswith("text") else 1000

            def call(i: int, make: Any = make, limit: int = limit, fields: Any = payload) -> None:
                shard.query(qe.QueryRequest(limit=limit, query=make(i), with_payload=fields, with_vector=False))

            idx = [i for i in range(len(points)) if sparse[i][0]]
            time_calls(call, idx[:50])
            rows.append({"query": name, "payload": what, **percentiles(time_calls(call, idx, args.max_seconds / 4))})
    return rows


# -- 3. direct: Qdrant Edge at scale, HNSW and quantization ----------------------------------------
def exact_topk(matrix: np.ndarray, queries: np.ndarray, k: int, block: int = 131_072) -> np.ndarray:
    """Exact top-k row indices by cosine (rows are unit length), blockwise so 1M rows fit in memory."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    q = queries.astype(np.float32)
    for start in range(0, len(matrix), block):
        scores = q @ matrix[start : start + block].astype(np.float32).T
        part = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        cand_s = np.concatenate([best_s, np.take_along_axis(scores, part, axis=1)], axis=1)
        cand_i = np.concatenate([best_i, part + start], axis=1)
        order = np.argsort(-cand_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, order, axis=1), np.take_along_axis(cand_i, order, axis=1)
    return best_i


def variant_config(name: str, dim: int) -> tuple[Any, Any]:
    """(EdgeConfig, SearchParams) of one variant."""
    import qdrant_edge as qe

    quant: Any = None
    params: Any = None
    if name == "sq8":
        quant = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)
        params = qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=True, oversampling=2.0))
    elif name == "bq":
        quant = qe.BinaryQuantizationConfig(always_ram=True)
        params = qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=True, oversampling=3.0))
    elif name != "hnsw":
        raise ValueError(f"unknown variant {name!r} (hnsw, sq8, bq)")
    from hfmrs.store.edge import SEGMENT_POINTS

    config = qe.EdgeConfig(
        vectors={"text": qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, quantization_config=quant)},
        hnsw_config=qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000),
        # Segments rolled every SEGMENT_POINTS points and left unmerged, as HFMRS builds do.
        optimizers=qe.EdgeOptimizersConfig(max_segment_size=max(1, SEGMENT_POINTS * dim * 4 // 1024)),
    )
    return config, params


def direct_bench(n: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import qdrant_edge as qe

    from hfmrs.store.edge import SEGMENT_POINTS

    sw = Stopwatch()
    with sw("synthesize"):
        records, vectors = synthetic_catalog(n, real_limit=args.real_limit)
    rng = np.random.default_rng(args.seed)
    sample = rng.integers(0, n, size=args.queries)
    recall_rows = sample[: args.recall_queries]
    with sw("exact numpy top-k"):
        unit = vectors[recall_rows].astype(np.float32)
        exact = exact_topk(vectors, unit, args.k + 1)
    tags = [r.pipeline_tag for r in records]
    out: dict[str, Any] = {"n": n, "dim": int(vectors.shape[1]), "timings": sw.timings, "variants": []}
    for name in args.variants.split(","):
        config, params = variant_config(name, vectors.shape[1])
        path = workdir / f"direct-{name}"
        shutil.rmtree(path, ignore_errors=True)
        shard = qe.EdgeShard.create(str(path), config)
        shard.update(qe.UpdateOperation.create_field_index("pipeline_tag", qe.PayloadSchemaType.Keyword))
        shard.update(qe.UpdateOperation.create_field_index("downloads", qe.PayloadSchemaType.Integer))
        vsw = Stopwatch()
        with vsw("upsert_s"):
            for start in range(0, n, 5000):
                batch = [
                    qe.Point(
                        id=i,
                        vector={"text": vectors[i].astype(np.float32).tolist()},
                        payload={"id": records[i].id, "pipeline_tag": tags[i], "downloads": records[i].downloads},
                    )
                    for i in range(start, min(n, start + 5000))
                ]
                shard.update(qe.UpdateOperation.upsert_points(batch))
                if (start + 5000) % SEGMENT_POINTS == 0 and start + 5000 < n:
                    shard.optimize()  # roll a segment, as hfmrs.store.edge does (counted in upsert_s)
        with vsw("optimize_s"):
            shard.optimize()
            shard.flush()
        info = shard.info()

        def query(
            row: int, flt: Any = None, search: Any = params, limit: int = args.k + 1, shard: Any = shard
        ) -> list[Any]:
            return shard.query(
                qe.QueryRequest(
                    limit=limit,
                    query=qe.Query.Nearest(vectors[row].astype(np.float32).tolist(), using="text"),
                    filter=flt,
                    params=search,
                    with_payload=True,
                    with_vector=False,
                )
            )

        def filtered(row: int) -> list[Any]:
            must = [qe.FieldCondition(key="downloads", range=qe.RangeFloat(gte=float(FILTER_MIN_DOWNLOADS)))]
            if tags[row]:
                must.append(qe.FieldCondition(key="pipeline_tag", match=qe.MatchValue(tags[row])))
            return query(row, qe.Filter(must=must))

        rows = sample.tolist()
        time_calls(query, rows[: args.warmup])
        plain = percentiles(time_calls(query, rows, args.max_seconds))
        flt = percentiles(time_calls(filtered, rows, args.max_seconds))

        def recall(search: Any = params) -> float | None:
            hits = total = 0
            for j, row in enumerate(recall_rows.tolist()):
                got = set([p.id for p in query(row, search=search) if p.id != row][: args.k])
                want = set([i for i in exact[j].tolist() if i != row][: args.k])
                hits += len(got & want)
                total += len(want)
            return round(hits / total, 4) if total else None

        entry = {
            "variant": name,
            **vsw.timings,
            "indexed_vectors": info.indexed_vectors_count,
            "segments": info.segments_count,
            "unfiltered": plain,
            "filtered": flt,
            f"recall@{args.k}": recall(),
            "rss_mb": rss_mb(),
        }
        if name != "hnsw":  # the same graph searched over the float32 originals, quantization ignored
            ignore = qe.SearchParams(quantization=qe.QuantizationSearchParams(ignore=True))
            entry["quantization_ignored"] = {
                **percentiles(time_calls(lambda r, ignore=ignore: query(r, search=ignore), rows, args.max_seconds)),
                f"recall@{args.k}": recall(ignore),
            }
        if name == "hnsw":  # the brute-force baseline, in Qdrant itself, on the float32 shard
            entry["exact_in_qdrant"] = percentiles(
                time_calls(lambda r: query(r, search=qe.SearchParams(exact=True)), rows[:200], args.max_seconds)
            )
        out["variants"].append(entry)
        print(f"  {name}: upsert {entry['upsert_s']:.1f}s optimize {entry['optimize_s']:.1f}s p99 {plain['p99_ms']} ms")
        shard.close()
        shutil.rmtree(path, ignore_errors=True)
    return out


# -- main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=parse_n, default="bundled", help="'bundled' (17.5k real) or a count: 100k, 1M.")
    parser.add_argument("--home", type=Path, help="Use this built HFMRS_HOME instead of building one.")
    parser.add_argument("--train", action="store_true", help="Build with training (kmeans, gnn, hybrid methods).")
    parser.add_argument("--methods", help="Comma-separated methods (default: every method the build offers).")
    parser.add_argument("--no-filters", action="store_true", help="Only unfiltered queries.")
    parser.add_argument("--queries", type=int, default=10_000, help="Random queries per cell.")
    parser.add_argument("--warmup", type=int, default=100, help="Untimed queries before each cell.")
    parser.add_argument("--recall-queries", type=int, default=500, help="Queries for recall@k against exact.")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="Time cap per cell (bounded runs).")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--direct", action="store_true", help="Also run the Qdrant Edge HNSW/quantization part.")
    parser.add_argument("--direct-only", action="store_true", help="Only the direct part (no engine build).")
    parser.add_argument("--variants", default="hnsw,sq8,bq", help="Direct variants: hnsw, sq8, bq.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes for CI.")
    parser.add_argument("--out", type=Path, default=RESULTS / "query_latency.json")
    args = parser.parse_args(argv)
    args.real_limit = None
    if args.smoke:
        args.n, args.queries, args.warmup, args.recall_queries, args.max_seconds = 600, 200, 10, 30, 5.0
        args.real_limit, args.direct = 300, True
    report = header("query latency", args.smoke)
    report["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    with tempfile.TemporaryDirectory(prefix="hfmrs-query-bench-") as tmp:
        if not args.direct_only:
            engine, built = open_or_build(args, Path(tmp))
            settle_heap()  # as the recommender service does once its engine is open
            try:
                report.update(built)
                report["engine"] = engine_bench(engine, args)
                report["recall"] = engine_recall(engine, args)
                report["store"] = store_bench(engine, args)
            finally:
                engine.close()
        if args.direct or args.direct_only:
            n = 1_000_000 if args.n == "bundled" and args.direct_only else args.n
            n = 17_483 if n == "bundled" else int(n)
            report["direct"] = direct_bench(n, args, Path(tmp))
    report["peak_rss_mb"] = peak_rss_mb()
    render(report)
    print(f"wrote {write_json(args.out, report)}")
    return 0


def render(report: dict[str, Any]) -> None:
    if "engine" in report:
        e = report["engine"]
        recall = report.get("recall", {})
        recall_k = recall.get(f"recall@{e['k']}", "-")
        print_table(
            f"Engine.similar(id, k={e['k']}) in-process, {e['models']:,} models, {e['queries']:,} random queries/cell",
            ["method", "filter", "queries", "p50 ms", "p90 ms", "p99 ms", "max ms"],
            [
                [c["method"], c["filter"], c["n"], c["p50_ms"], c["p90_ms"], c["p99_ms"], c["max_ms"]]
                for c in e["cells"]
            ],
            note=f"cosine recall@{e['k']} vs exact search: {recall_k} "
            f"over {recall.get('queries', 0)} queries. Targets: p99 < 2 ms at 17.5k (fused: < 5 ms), < 10 ms at 1M.",
        )
    if report.get("store"):
        print_table(
            "One raw Qdrant Edge query: what returning the payload costs",
            ["query", "payload", "p50 ms", "p99 ms"],
            [[r["query"], r["payload"], r["p50_ms"], r["p99_ms"]] for r in report["store"]],
        )
    if "direct" in report:
        d = report["direct"]
        rows = []
        for v in d["variants"]:
            k_key = next(k for k in v if k.startswith("recall@"))
            rows.append(
                [
                    v["variant"],
                    v["upsert_s"],
                    v["optimize_s"],
                    v["unfiltered"]["p50_ms"],
                    v["unfiltered"]["p99_ms"],
                    v["filtered"]["p50_ms"],
                    v["filtered"]["p99_ms"],
                    v[k_key],
                    v["rss_mb"],
                ]
            )
            if "quantization_ignored" in v:
                qi = v["quantization_ignored"]
                label = f"{v['variant']} graph, float32 (quantization ignored)"
                rows.append([label, None, None, qi["p50_ms"], qi["p99_ms"], None, None, qi[k_key], None])
            if "exact_in_qdrant" in v:
                ex = v["exact_in_qdrant"]
                rows.append(["exact (brute force)", None, None, ex["p50_ms"], ex["p99_ms"], None, None, 1.0, None])
        print_table(
            f"Qdrant Edge direct, {d['n']:,} x {d['dim']} (synthetic neighbourhoods), nearest 11 with payload",
            [
                "variant",
                "upsert s",
                "optimize s",
                "p50 ms",
                "p99 ms",
                "filtered p50",
                "filtered p99",
                "recall",
                "RSS MB",
            ],
            rows,
            note="filtered = pipeline_tag of the query AND downloads >= 1000 (both payload-indexed). "
            "sq8 = int8 scalar quantization, rescore, oversampling 2; bq = binary, rescore, oversampling 3.",
        )


if __name__ == "__main__":
    raise SystemExit(main())
