"""``hfmrs evaluate``: build an evaluation store without the held-out lineage, query every method and
baseline on the three query sets (:mod:`hfmrs.evaluation.ground_truth`), write ``evaluation.md`` and
``evaluation.json``.

The evaluation never touches the serving build: it builds its own, in ``$HFMRS_HOME/eval`` by default,
from the catalog minus the held-out edges (:func:`hfmrs.lineage.strip_holdout`), with the trainer of
:mod:`hfmrs.training` when that package exists (so its methods are evaluated too, trained on the
train edges only).  Re-runs are fast: the build is skipped when its inputs are unchanged and the seed
baseline's vectors are cached under the same home.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hfmrs.catalog import Catalog
from hfmrs.embedding import Encoder
from hfmrs.engine import Engine
from hfmrs.evaluation import metrics as metric_fns
from hfmrs.evaluation.baselines import SeedBaseline, popularity_ranking, random_ranking
from hfmrs.evaluation.evaluator import METRICS, EmbeddingTable, Estimate, Evaluator, MethodResult, Ranked
from hfmrs.evaluation.ground_truth import (
    QuerySet,
    family_ground_truth,
    held_out_ids,
    lineage_ground_truth,
    text_ground_truth,
)
from hfmrs.evaluation.judged import JUDGED_K, JudgedQuery, judged_recommenders, load_judged, query_sets
from hfmrs.evaluation.needs import NEEDS_K, Need, load_catalog_needs
from hfmrs.evaluation.needs import query_set as needs_query_set
from hfmrs.lineage import LineageSplit, lineage_edges, split_lineage, strip_holdout
from hfmrs.search import DEFAULT_METHOD as DEFAULT_SEARCH_METHOD
from hfmrs.search import METHODS as SEARCH_METHODS
from hfmrs.settings import BUNDLED_DATA, Settings
from hfmrs.sources import open_catalog
from hfmrs.store.base import TEXT

log = logging.getLogger(__name__)

BASELINES = ("random", "popularity", "seed-cosine", "seed-jaccard")
HIGHER_IS_BETTER = ("precision", "recall", "ndcg", "mrr", "hit_rate", "coverage", "diversity")
METRIC_LABELS = {
    "precision": "P",
    "recall": "R",
    "ndcg": "nDCG",
    "mrr": "MRR",
    "hit_rate": "Hit",
    "coverage": "Cov",
    "diversity": "ILD",
    "pop_bias": "PopBias",
}


class LeakError(RuntimeError):
    """A held-out lineage edge is visible in the evaluation build."""


@dataclass
class EvaluationConfig:
    k_values: tuple[int, ...] = (5, 10, 30)
    methods: Sequence[str] | None = None  # None: every engine method and every baseline
    max_family_queries: int = 1000
    train: bool = True  # run hfmrs.training's trainer (k-means, GNN, hybrid) when that package exists
    resamples: int = 1000
    seed: int = 0
    pipeline_types: Path = BUNDLED_DATA / "hf-pipeline-types.json"
    judged_dir: Path | None = BUNDLED_DATA / "eval" / "judged"  # None: leave the judged set out
    needs_dir: Path | None = BUNDLED_DATA / "eval" / "needs"  # None: leave the need-description set out
    extra: dict[str, Any] = field(default_factory=dict)

    def wants(self, method: str) -> bool:
        return self.methods is None or method in self.methods


def evaluation_settings(settings: Settings, eval_home: Path | None = None) -> Settings:
    """The serving settings with the home moved: the evaluation's builds never replace the served one."""
    return settings.model_copy(update={"home": eval_home or settings.home / "eval"})


def find_trainer(settings: Settings, split: LineageSplit) -> tuple[Any, str]:
    """The training step for the evaluation build (on the evaluation's split), and a key naming it."""
    from hfmrs.training import make_trainer

    return make_trainer(settings, split), ";trainer=hfmrs.training"


def check_no_leak(engine: Engine, split: LineageSplit) -> int:
    """Fail when any held-out parent is still among a child's base models in the evaluation build."""
    held = held_out_ids(split)
    points = engine.store.retrieve(sorted(held))
    for point in points:
        leaked = set(point.payload.get("base_model_ids") or []) & held[point.id]
        tags = [t for t in point.payload.get("tags") or [] if t.startswith("base_model:")]
        leaked |= {t.rsplit(":", 1)[-1] for t in tags} & held[point.id]
        if leaked:
            raise LeakError(f"held-out lineage of {point.id} leaked into the evaluation build: {sorted(leaked)}")
    return len(points)


def text_embeddings(engine: Engine) -> EmbeddingTable:
    ids, rows = [], []
    for point in engine.store.scroll(fields=["id"], with_vectors=[TEXT]):
        ids.append(point.payload.get("id", point.id))
        rows.append(np.asarray(point.vectors[TEXT], dtype=np.float32))
    return EmbeddingTable(ids, np.stack(rows) if rows else np.zeros((0, 1), np.float32))


def engine_similar(engine: Engine, method: str, k: int) -> Callable[[str], Ranked]:
    def recommend(model_id: str) -> Ranked:
        try:
            result = engine.similar(model_id, k=k, method=method)
        except Exception as error:  # one failing query must not sink a method's whole evaluation
            log.warning("%s failed on %s: %s", method, model_id, error)
            return []
        return [(r.id, r.score) for r in result.results]

    return recommend


def run_evaluation(
    settings: Settings,
    out_dir: Path,
    config: EvaluationConfig | None = None,
    encoder: Encoder | None = None,
    seed_encoder: Encoder | Callable[[], Encoder] | None = None,
    split: LineageSplit | None = None,
    eval_home: Path | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Run the whole evaluation and write ``evaluation.md`` / ``evaluation.json`` to ``out_dir``.

    ``encoder`` is the build's (default: the one the settings name); ``seed_encoder`` the seed
    baseline's (default: all-MiniLM-L6-v2 at 256 tokens; tests pass the keyword encoder).
    """
    from hfmrs.pipeline import build

    config = config or EvaluationConfig()
    catalog = open_catalog(settings, live=False)
    split = split or split_lineage(lineage_edges(catalog, settings.lineage_dir))
    stripped = strip_holdout(catalog, split)
    eval_settings = evaluation_settings(settings, eval_home)
    trainer, trainer_key = find_trainer(eval_settings, split) if config.train else (None, "")
    if encoder is None:
        encoder = default_encoder(settings)
    training_note = "trained" if trainer is not None else "no trainer"
    try:
        result = build(
            eval_settings,
            encoder=encoder,
            transform=lambda c: strip_holdout(c, split),
            transform_key=split.key + trainer_key,
            trainer=trainer,
            show_progress=show_progress,
        )
    except Exception as error:
        if trainer is None:
            raise
        # the trained methods are another package's: when its training fails, still evaluate the rest
        log.exception("training failed; evaluating the untrained methods only")
        training_note = f"training failed: {error}"
        result = build(
            eval_settings,
            encoder=encoder,
            transform=lambda c: strip_holdout(c, split),
            transform_key=split.key,
            show_progress=show_progress,
        )
    log.info("evaluation build %s (%s)", result.build_id, "reused" if result.skipped else "new")
    engine = Engine.open(eval_settings)
    try:
        if training_note == "trained" and not engine.manifest.get("training"):
            training_note = "the trainer recorded nothing"
        checked = check_no_leak(engine, split)
        log.info("leak check: %d children of held-out edges carry none of their held-out parents", checked)
        report = _evaluate(engine, stripped, split, encoder, seed_encoder, eval_settings, config, show_progress)
    finally:
        engine.close()
    report["meta"].update(
        {
            "build_id": engine.build_id,
            "eval_home": str(eval_settings.home),
            "leak_check_children": checked,
            "training": training_note,
        }
    )
    judged = load_judged(config.judged_dir, catalog) if config.judged_dir is not None else []
    needs = load_catalog_needs(config.needs_dir, catalog) if config.needs_dir is not None else []
    if judged or needs:
        report["sets"].update(
            evaluate_judged_build(settings, judged, encoder, config, eval_home, show_progress, needs=needs)
        )
        report["winners"] = winners(report, config.k_values)
    write_outputs(report, out_dir)
    return report


def evaluate_judged_build(
    settings: Settings,
    judged: list[JudgedQuery],
    encoder: Encoder,
    config: EvaluationConfig,
    eval_home: Path | None,
    show_progress: bool,
    needs: Sequence[Need] = (),
) -> dict[str, Any]:
    """The judged set on a build of the whole catalog, as users get it (nothing held out: the judged set is
    independent of lineage), trained like a served build; both halves and their per-relation views; and
    the need-description set's halves on the same build (free-text search)."""
    from hfmrs.pipeline import build

    judged_settings = evaluation_settings(settings, (eval_home or settings.home / "eval") / "judged")
    from hfmrs.training import make_trainer

    trainer = make_trainer(judged_settings) if config.train else None  # as a served build is trained
    result = build(judged_settings, encoder=encoder, trainer=trainer, show_progress=show_progress)
    engine = Engine.open(judged_settings)
    sets: dict[str, Any] = {}
    try:
        catalog_downloads = {m: engine.ids.downloads_of(m) for m in engine.ids}
        methods = [m for m in engine.methods if config.wants(m)]
        for half in ("report", "tune"):
            for query_set in query_sets(judged, half):
                recommenders = judged_recommenders(engine, methods, max(JUDGED_K), config.wants("naive-fusion"))
                if config.wants("popularity"):
                    recommenders["popularity"] = popularity_ranking(catalog_downloads, max(JUDGED_K))
                sets[query_set.name] = set_block(
                    query_set, recommenders, JUDGED_K, engine, catalog_downloads, config, show_progress,
                    (engine.default_method, PAIRED_METRICS), result.build_id,
                )  # fmt: skip
        if needs:
            sets.update(evaluate_needs(engine, list(needs), encoder, config, catalog_downloads, show_progress))
    finally:
        engine.close()
    return sets


def evaluate_needs(
    engine: Engine,
    needs: list[Need],
    encoder: Encoder,
    config: EvaluationConfig,
    downloads: dict[str, int],
    show_progress: bool = False,
) -> dict[str, Any]:
    """Both halves of the need-description set through ``engine.search`` (what ``/v1/search`` runs), each
    search method side by side, and the default minus each (hit@10, recall@100) query by query."""
    texts = [n.query for n in needs]
    vectors = dict(zip(texts, encoder.encode(texts), strict=True))
    k = max(NEEDS_K)

    sets: dict[str, Any] = {}
    for half in ("report", "tune"):
        query_set_ = needs_query_set(needs, half)
        recommenders = {name: search_ranking(engine, name, vectors, k) for name in SEARCH_METHODS if config.wants(name)}
        if config.wants("popularity"):
            recommenders["popularity"] = popularity_ranking(downloads, k)
        sets[query_set_.name] = set_block(
            query_set_, recommenders, NEEDS_K, engine, downloads, config, show_progress,
            (DEFAULT_SEARCH_METHOD, NEEDS_PAIRED_METRICS), engine.build_id,
        )  # fmt: skip
    return sets


def set_block(
    query_set: QuerySet,
    recommenders: dict[str, Callable[[str], Ranked]],
    k_values: Sequence[int],
    engine: Engine,
    downloads: dict[str, int],
    config: EvaluationConfig,
    show_progress: bool,
    paired: tuple[str, Sequence[tuple[str, int]]],
    build_id: str,
) -> dict[str, Any]:
    """One query set scored for every recommender, with the default (``paired[0]``) minus each method
    query by query on ``paired[1]``'s metrics: the report's block for the set."""
    evaluator = Evaluator(
        query_set.queries,
        query_set.relevant,
        name=query_set.name,
        k_values=k_values,
        downloads=downloads,
        catalog_size=len(engine.ids),
        resamples=config.resamples,
        seed=config.seed,
        show_progress=show_progress,
    )
    results = {name: evaluator.evaluate(rec) for name, rec in recommenders.items()}
    return {
        "description": f"{query_set.description} (build {build_id})",
        "stats": query_set.stats,
        "k": list(k_values),
        "methods": {n: {key: est.to_dict() for key, est in r.metrics.items()} for n, r in results.items()},
        "paired": paired_differences(evaluator, results, paired[0], paired[1]),
    }


PAIRED_METRICS = (("ndcg", JUDGED_K[0]), ("recall", JUDGED_K[-1]))
NEEDS_PAIRED_METRICS = (("hit_rate", NEEDS_K[0]), ("recall", NEEDS_K[-1]))


def paired_differences(
    evaluator: Evaluator,
    results: dict[str, MethodResult],
    default: str,
    paired_metrics: Sequence[tuple[str, int]] = PAIRED_METRICS,
) -> dict[str, Any]:
    """The default method minus each other method, query by query (nDCG@10, recall@100), with a 95 %
    bootstrap interval of the mean difference: tighter than comparing two intervals, which overlap
    even when one method wins on almost every query."""
    if default not in results:
        return {}
    metric = {"ndcg": metric_fns.ndcg_at_k, "recall": metric_fns.recall_at_k, "hit_rate": metric_fns.hit_rate_at_k}

    def per_query(name: str, kind: str, k: int) -> np.ndarray:
        lists = results[name].lists
        return np.array(
            [
                metric[kind](
                    [r[0] for r in lists.get(q, [])], evaluator.relevant[q], k, [r[1] for r in lists.get(q, [])]
                )
                for q in evaluator.queries
            ]
        )

    versus = {}
    for other in (n for n in results if n != default):
        versus[other] = {
            f"{kind}@{k}": Estimate(
                *metric_fns.bootstrap_mean_ci(
                    per_query(default, kind, k) - per_query(other, kind, k), evaluator.resamples, evaluator.seed
                )
            ).to_dict()
            for kind, k in paired_metrics
        }
    return {"method": default, "versus": versus}


def default_encoder(settings: Settings) -> Encoder:
    from hfmrs.embedding import load_encoder

    return load_encoder(
        settings.encoder,
        device=settings.encoder_device,
        batch_size=settings.encoder_batch_size,
        max_seq_length=settings.encoder_max_seq_length,
    )


def default_seed_encoder(settings: Settings) -> Encoder:
    from hfmrs.embedding import BUNDLED_MINILM, SentenceTransformerEncoder
    from hfmrs.evaluation.baselines import SEED_MAX_SEQ_LENGTH

    return SentenceTransformerEncoder(
        BUNDLED_MINILM,
        device=settings.encoder_device,
        batch_size=settings.encoder_batch_size,
        max_seq_length=SEED_MAX_SEQ_LENGTH,
    )


def _evaluate(
    engine: Engine,
    catalog: Catalog,
    split: LineageSplit,
    encoder: Encoder,
    seed_encoder: Encoder | Callable[[], Encoder] | None,
    settings: Settings,
    config: EvaluationConfig,
    show_progress: bool,
) -> dict[str, Any]:
    max_k = max(config.k_values)
    downloads = {r.id: r.downloads for r in catalog}
    ids = sorted(downloads)
    embeddings = text_embeddings(engine)
    sets = [
        lineage_ground_truth(split),
        family_ground_truth(catalog, config.max_family_queries, config.seed),
        text_ground_truth(config.pipeline_types, catalog),
    ]
    seed = None
    if config.wants("seed-cosine") or config.wants("seed-jaccard"):
        if seed_encoder is None:
            seed_encoder = default_seed_encoder(settings)
        elif callable(seed_encoder) and not hasattr(seed_encoder, "encode"):
            seed_encoder = seed_encoder()
        seed = SeedBaseline(catalog, seed_encoder, settings.home / "cache" / "vectors", show_progress)  # type: ignore[arg-type]
    methods = [m for m in engine.methods if config.wants(m)]
    report: dict[str, Any] = {
        "meta": {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "catalog_models": len(catalog),
            "lineage_edges": len(split.train) + len(split.test),
            "lineage_train_edges": len(split.train),
            "lineage_test_edges": len(split.test),
            "split": split.key,
            "encoder": encoder.name,
            "seed_encoder": getattr(seed.encoder, "name", None) if seed else None,
            "engine_methods": engine.methods,
            "k": list(config.k_values),
            "bootstrap_resamples": config.resamples,
            "bootstrap_seed": config.seed,
            "catalog_mean_log_downloads": round(float(np.mean(np.log1p(list(downloads.values())))), 4),
            **config.extra,
        },
        "sets": {},
    }
    for query_set in sets:
        evaluator = Evaluator(
            query_set.queries,
            query_set.relevant,
            name=query_set.name,
            k_values=config.k_values,
            downloads=downloads,
            embeddings=embeddings,
            catalog_size=len(catalog),
            resamples=config.resamples,
            seed=config.seed,
            show_progress=show_progress,
        )
        results: dict[str, MethodResult] = {}
        if len(query_set):
            recommenders = _recommenders(query_set, engine, methods, seed, encoder, ids, downloads, config, max_k)
            for name, recommender in recommenders.items():
                log.info("%s: evaluating %s on %d queries", query_set.name, name, len(query_set))
                results[name] = evaluator.evaluate(recommender)
        else:
            log.warning("query set %s is empty: nothing to evaluate", query_set.name)
        report["sets"][query_set.name] = {
            "description": query_set.description,
            "stats": query_set.stats,
            "methods": {
                name: {key: est.to_dict() for key, est in res.metrics.items()} for name, res in results.items()
            },
        }
    report["winners"] = winners(report, config.k_values)
    return report


def _recommenders(
    query_set: QuerySet,
    engine: Engine,
    methods: Sequence[str],
    seed: SeedBaseline | None,
    encoder: Encoder,
    ids: Sequence[str],
    downloads: dict[str, int],
    config: EvaluationConfig,
    max_k: int,
) -> dict[str, Callable[[str], Ranked]]:
    """Method name -> recommender for this set: model queries go through ``engine.similar``, text
    queries through ``engine.search_vector`` (what ``/v1/search`` runs)."""
    out: dict[str, Callable[[str], Ranked]] = {}
    texts = list(query_set.queries.values())
    if query_set.name == "text":
        vectors = dict(zip(texts, encoder.encode(texts), strict=True))
        for name in (m for m in SEARCH_METHODS if config.wants(m)):
            out[name] = search_ranking(engine, name, vectors, max_k)
    else:
        for method in methods:
            out[method] = engine_similar(engine, method, max_k)
    if config.wants("random"):
        out["random"] = random_ranking(ids, max_k, seed=config.seed)
    if config.wants("popularity"):
        out["popularity"] = popularity_ranking(downloads, max_k)
    if seed is not None:
        query_vectors = seed.embed_queries(texts) if query_set.name == "text" else None
        for name, ranker in (("seed-cosine", seed.cosine), ("seed-jaccard", seed.jaccard)):
            if not config.wants(name):
                continue
            if query_vectors is not None:
                ranked = dict(zip(texts, ranker.rank_vectors(query_vectors, max_k), strict=True))
            else:
                ranked = ranker.rank_ids(texts, max_k)
            out[name] = ranked.__getitem__
    return out


def search_ranking(engine: Engine, method: str, vectors: dict[str, Any], k: int) -> Callable[[str], Ranked]:
    """Text queries through ``engine.search`` with ``method`` (what ``/v1/search?method=`` runs)."""

    def recommend(text: str) -> Ranked:
        return [(r.id, r.score) for r in engine.search(text, vectors[text].tolist(), k=k, method=method).results]

    return recommend


def winners(report: dict[str, Any], k_values: Sequence[int]) -> dict[str, dict[str, str]]:
    """Per set, the best method on each metric at the middle cut-off (ties: listed together)."""
    out: dict[str, dict[str, str]] = {}
    for set_name, block in report["sets"].items():
        ks = sorted(block.get("k", k_values))
        k = ks[len(ks) // 2] if "k" not in block else ks[0]
        best: dict[str, str] = {}
        for metric in HIGHER_IS_BETTER:
            values = {
                method: v[f"{metric}@{k}"]["value"]
                for method, v in block["methods"].items()
                if v.get(f"{metric}@{k}", {}).get("value") is not None
            }
            if values:
                top = max(values.values())
                best[f"{metric}@{k}"] = ", ".join(m for m, v in values.items() if math.isclose(v, top, abs_tol=1e-9))
        out[set_name] = best
    return out


# --------------------------------------------------------------------------------------------------
# Output


def _cell(estimate: dict[str, float | None] | None) -> str:
    if not estimate or estimate.get("value") is None:
        return "–"
    low, high = estimate.get("low"), estimate.get("high")
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
    return f"{estimate['value']:.3f}{interval}"


def markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    lines = [
        "# HFMRS evaluation",
        "",
        f"Created {meta['created']} on {meta['catalog_models']:,} catalog models; evaluation build "
        f"`{meta.get('build_id', '?')}`, encoder `{meta['encoder']}`, seed baseline encoder "
        f"`{meta.get('seed_encoder')}`.",
        f"Lineage: {meta['lineage_edges']:,} edges, {meta['lineage_test_edges']:,} held out "
        f"(`{meta['split']}`), stripped from every feature of the evaluation build "
        f"(leak check over {meta.get('leak_check_children', 0)} children passed).",
        f"Engine methods: {', '.join(meta['engine_methods'])} ({meta.get('training', '?')}); baselines: "
        f"{', '.join(BASELINES)}.",
        f"Every cell: mean over queries [95 % bootstrap interval, {meta['bootstrap_resamples']} resamples, "
        f"seed {meta['bootstrap_seed']}].  P/R/nDCG/MRR/Hit are tie-aware; Cov = share of the catalog in "
        "any list; ILD = mean pairwise cosine distance of a list (build text vectors); PopBias = mean "
        f"log(1+downloads) of the results minus the catalog's ({meta['catalog_mean_log_downloads']:.2f}).",
        "",
    ]
    for set_name, block in report["sets"].items():
        stats = block["stats"]
        lines += [f"## {set_name}: {block['description']}", ""]
        lines.append(
            f"{stats.get('queries', 0)} queries; relevant per query: mean {stats.get('relevant_mean', '–')}, "
            f"median {stats.get('relevant_median', '–')}, max {stats.get('relevant_max', '–')}."
        )
        lines.append("")
        if not block["methods"]:
            lines += ["(no queries)", ""]
            continue
        for k in block.get("k", meta["k"]):
            lines.append(f"### {set_name} @ {k}")
            lines.append("")
            lines.append("| method | " + " | ".join(METRIC_LABELS[x] for x in METRICS) + " |")
            lines.append("|---|" + "---|" * len(METRICS))
            best = {
                metric: max(
                    (v[f"{metric}@{k}"]["value"] for v in block["methods"].values() if v[f"{metric}@{k}"]["value"]),
                    default=None,
                )
                for metric in HIGHER_IS_BETTER
            }
            for method, values in block["methods"].items():
                cells = []
                for metric in METRICS:
                    estimate = values.get(f"{metric}@{k}")
                    text = _cell(estimate)
                    top = best.get(metric)
                    if top is not None and estimate and estimate["value"] is not None and estimate["value"] == top:
                        text = f"**{text}**"
                    cells.append(text)
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            lines.append("")
        lines += paired_markdown(set_name, block.get("paired"))
    lines += ["## Winners", ""]
    for set_name, best in report.get("winners", {}).items():
        if best:
            lines.append(f"- **{set_name}**: " + "; ".join(f"{metric}: {m}" for metric, m in best.items()))
    lines.append("")
    return "\n".join(lines)


def paired_markdown(set_name: str, paired: dict[str, Any] | None) -> list[str]:
    if not paired or not paired.get("versus"):
        return []
    keys = list(next(iter(paired["versus"].values())))
    lines = [
        f"### {set_name}: {paired['method']} minus each method, query by query",
        "",
        "| method | " + " | ".join(f"Δ {key}" for key in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    lines += [
        f"| {other} | " + " | ".join(_cell(d.get(key)) for key in keys) + " |" for other, d in paired["versus"].items()
    ]
    return [*lines, ""]


def write_outputs(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "evaluation.json"
    md_path = out_dir / "evaluation.md"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=False))
    md_path.write_text(markdown(report))
    log.info("wrote %s and %s", md_path, json_path)
    return md_path, json_path
