"""An evaluator in the shape of sentence-transformers' evaluators: built once from queries and their
relevant sets, then called with a recommender; returns ``{"<set>_<metric>@<k>": value, ...}``.

A recommender is any callable ``query -> [(model id, score or None), ...]`` (best first, at least
``max(k_values)`` long when it can be).  Per metric and cut-off ``k`` it reports the mean over queries
with a seeded 95 % bootstrap interval (``..._low`` / ``..._high`` keys): precision, recall, nDCG,
MRR and hit rate (see :mod:`hfmrs.evaluation.metrics`), catalog coverage, intra-list diversity (mean
pairwise cosine distance in one shared embedding space, the build's text vectors) and popularity
bias (mean log(1 + downloads) of the results minus the catalog's mean).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hfmrs.evaluation import metrics as m

log = logging.getLogger(__name__)

Ranked = list[tuple[str, float | None]]
RANKING_METRICS = ("precision", "recall", "ndcg", "mrr", "hit_rate")
LIST_METRICS = ("coverage", "diversity", "pop_bias")
METRICS = RANKING_METRICS + LIST_METRICS


class EmbeddingTable:
    """Unit vectors by model id: the shared space intra-list diversity is measured in."""

    def __init__(self, ids: Sequence[str], matrix: np.ndarray):
        self.row = {model_id: i for i, model_id in enumerate(ids)}
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.matrix = (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)

    def lookup(self, ids: Sequence[str]) -> np.ndarray:
        rows = [self.row[i] for i in ids if i in self.row]
        return self.matrix[rows]


@dataclass
class Estimate:
    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | None]:
        return {k: (None if math.isnan(v) else round(v, 6)) for k, v in self.__dict__.items()}


@dataclass
class MethodResult:
    """One method on one query set: ``metric@k`` -> estimate, plus the lists it returned."""

    metrics: dict[str, Estimate] = field(default_factory=dict)
    lists: dict[str, Ranked] = field(default_factory=dict)


class Evaluator:
    def __init__(
        self,
        queries: Mapping[str, Any],
        relevant: Mapping[str, Mapping[str, float]],
        name: str = "",
        k_values: Sequence[int] = (5, 10, 30),
        downloads: Mapping[str, int] | None = None,
        embeddings: EmbeddingTable | None = None,
        catalog_size: int | None = None,
        resamples: int = 1000,
        seed: int = 0,
        show_progress: bool = False,
    ):
        if not k_values or min(k_values) < 1:
            raise ValueError("k values must be positive")
        self.queries = dict(queries)
        self.relevant = {q: dict(relevant.get(q, {})) for q in self.queries}
        self.name = name
        self.k_values = sorted(set(k_values))
        self.downloads = dict(downloads or {})
        self.embeddings = embeddings
        self.catalog_size = catalog_size if catalog_size is not None else len(self.downloads)
        self.catalog_log_downloads = m.mean_log_downloads(list(self.downloads.values())) if self.downloads else math.nan
        self.resamples = resamples
        self.seed = seed
        self.show_progress = show_progress

    @property
    def max_k(self) -> int:
        return max(self.k_values)

    def key(self, metric: str, k: int) -> str:
        return f"{self.name}_{metric}@{k}" if self.name else f"{metric}@{k}"

    def __call__(self, recommender: Callable[[Any], Ranked]) -> dict[str, float]:
        result = self.evaluate(recommender)
        flat: dict[str, float] = {}
        for metric, estimate in result.metrics.items():
            key = f"{self.name}_{metric}" if self.name else metric
            flat[key] = estimate.value
            flat[f"{key}_low"] = estimate.low
            flat[f"{key}_high"] = estimate.high
        return flat

    def collect(self, recommender: Callable[[Any], Ranked]) -> dict[str, Ranked]:
        from rich.progress import Progress

        lists: dict[str, Ranked] = {}
        with Progress(disable=not self.show_progress, transient=True) as bar:
            task = bar.add_task(f"{self.name or 'queries'}", total=len(self.queries))
            for qid, query in self.queries.items():
                lists[qid] = list(recommender(query))[: self.max_k]
                bar.advance(task)
        return lists

    def evaluate(self, recommender: Callable[[Any], Ranked]) -> MethodResult:
        return self.score_lists(self.collect(recommender))

    def score_lists(self, lists: Mapping[str, Ranked]) -> MethodResult:
        """Metrics of already collected lists (query id -> ranked list)."""
        result = MethodResult(lists=dict(lists))
        order = list(self.queries)
        for k in self.k_values:
            values: dict[str, list[float]] = {name: [] for name in (*RANKING_METRICS, "diversity", "pop_bias")}
            for qid in order:
                ranked = lists.get(qid, [])
                ids = [r[0] for r in ranked]
                scores = [r[1] for r in ranked]
                rel = self.relevant[qid]
                values["precision"].append(m.precision_at_k(ids, rel, k, scores))
                values["recall"].append(m.recall_at_k(ids, rel, k, scores))
                values["ndcg"].append(m.ndcg_at_k(ids, rel, k, scores))
                values["mrr"].append(m.reciprocal_rank(ids, rel, k, scores))
                values["hit_rate"].append(m.hit_rate_at_k(ids, rel, k, scores))
                top = list(dict.fromkeys(ids))[:k]
                values["diversity"].append(
                    m.intra_list_diversity(self.embeddings.lookup(top)) if self.embeddings else math.nan
                )
                values["pop_bias"].append(
                    m.mean_log_downloads([self.downloads.get(i, 0) for i in top]) - self.catalog_log_downloads
                    if top and self.downloads
                    else math.nan
                )
            for name, per_query in values.items():
                result.metrics[f"{name}@{k}"] = Estimate(
                    *m.bootstrap_mean_ci(per_query, self.resamples, self.seed) if per_query else (math.nan,) * 3
                )
            id_lists = [[r[0] for r in lists.get(qid, [])] for qid in order]
            result.metrics[f"coverage@{k}"] = Estimate(
                *m.bootstrap_coverage_ci(id_lists, self.catalog_size, k, self.resamples, self.seed)
            )
        return result
