"""Ranking metrics as pure functions, tie-aware, plus bootstrap confidence intervals.

Conventions (tests/hfmrs/evaluation/test_metrics.py checks each against hand-computed values):

* ``ranked`` is a method's list, best first; a repeated id counts once (its first position).
* ``relevant`` maps id -> gain.  An id is relevant when its gain is > 0; binary metrics ignore the
  size of the gain, nDCG uses it.
* ``scores`` (optional, aligned with ``ranked``): results with equal scores (rounded to 6 decimals,
  as the engine rounds them) form a tie group, and every metric is the *expected* value over all
  orders of each group (McSherry & Najork, 2008).  So a method gains nothing from the arbitrary
  order in which it lists equal scores, and a group that straddles the cut-off ``k`` counts in
  proportion to its places above the cut-off.  Without scores the list order is taken as strict.
* Precision@k divides by ``k`` even when fewer than ``k`` results came back (an empty list scores
  0); recall@k divides by the number of relevant ids, so with ``k`` beyond the relevant set
  precision can no longer reach 1 while recall can.  A query without relevant ids scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from math import comb

import numpy as np

SCORE_DECIMALS = 6


def _dedupe(ranked: Sequence[str], scores: Sequence[float | None] | None) -> tuple[list[str], list[float] | None]:
    seen: set[str] = set()
    ids: list[str] = []
    kept: list[float] = []
    for i, model_id in enumerate(ranked):
        if model_id in seen:
            continue
        seen.add(model_id)
        ids.append(model_id)
        if scores is not None:
            kept.append(scores[i])  # type: ignore[arg-type]
    if scores is None or any(s is None for s in kept):
        return ids, None
    return ids, kept


def tie_groups(n: int, scores: Sequence[float] | None) -> list[tuple[int, int]]:
    """Half-open index ranges of consecutive equal scores; every item alone without scores."""
    if scores is None:
        return [(i, i + 1) for i in range(n)]
    groups: list[tuple[int, int]] = []
    start = 0
    for i in range(1, n + 1):
        if i == n or round(float(scores[i]), SCORE_DECIMALS) != round(float(scores[start]), SCORE_DECIMALS):
            groups.append((start, i))
            start = i
    return groups


def _prepare(ranked: Sequence[str], relevant: Mapping[str, float], scores: Sequence[float | None] | None):
    ids, kept = _dedupe(ranked, scores)
    gains = [float(relevant.get(m, 0.0)) for m in ids]
    return gains, tie_groups(len(ids), kept)


def expected_hits(
    ranked: Sequence[str], relevant: Mapping[str, float], k: int, scores: Sequence[float | None] | None = None
) -> float:
    """Expected number of relevant ids in the top ``k``."""
    gains, groups = _prepare(ranked, relevant, scores)
    hits = 0.0
    for start, end in groups:
        if start >= k:
            break
        rel = sum(1 for g in gains[start:end] if g > 0)
        hits += rel * (min(end, k) - start) / (end - start)
    return hits


def precision_at_k(
    ranked: Sequence[str], relevant: Mapping[str, float], k: int, scores: Sequence[float | None] | None = None
) -> float:
    if k <= 0:
        raise ValueError("k must be positive")
    return expected_hits(ranked, relevant, k, scores) / k


def recall_at_k(
    ranked: Sequence[str], relevant: Mapping[str, float], k: int, scores: Sequence[float | None] | None = None
) -> float:
    n_relevant = sum(1 for g in relevant.values() if g > 0)
    if n_relevant == 0:
        return 0.0
    return expected_hits(ranked, relevant, k, scores) / n_relevant


def hit_rate_at_k(
    ranked: Sequence[str], relevant: Mapping[str, float], k: int, scores: Sequence[float | None] | None = None
) -> float:
    """Probability that at least one relevant id is in the top ``k``."""
    gains, groups = _prepare(ranked, relevant, scores)
    for start, end in groups:
        if start >= k:
            break
        size = end - start
        rel = sum(1 for g in gains[start:end] if g > 0)
        if rel == 0:
            continue
        slots = min(end, k) - start
        if slots == size:
            return 1.0
        # the straddling group: none of its `rel` relevant ids lands in its `slots` places above k
        return 1.0 - comb(size - rel, slots) / comb(size, slots)
    return 0.0


def reciprocal_rank(
    ranked: Sequence[str],
    relevant: Mapping[str, float],
    k: int | None = None,
    scores: Sequence[float | None] | None = None,
) -> float:
    """Expected 1 / rank of the first relevant id (0 when none is in the top ``k``; ``k=None``: the
    whole list)."""
    gains, groups = _prepare(ranked, relevant, scores)
    limit = len(gains) if k is None else min(k, len(gains))
    for start, end in groups:
        if start >= limit:
            break
        size = end - start
        rel = sum(1 for g in gains[start:end] if g > 0)
        if rel == 0:
            continue
        # P(first relevant at offset j of a random order of the group) = C(size-1-j, rel-1) / C(size, rel)
        total = comb(size, rel)
        return sum(
            comb(size - 1 - j, rel - 1) / total / (start + j + 1) for j in range(size - rel + 1) if start + j < limit
        )
    return 0.0


def dcg_discount(position: int) -> float:
    """Discount of a 0-based position: 1 / log2(position + 2)."""
    return 1.0 / math.log2(position + 2)


def ndcg_at_k(
    ranked: Sequence[str], relevant: Mapping[str, float], k: int, scores: Sequence[float | None] | None = None
) -> float:
    """Normalised DCG with the gains in ``relevant``; a tie group's places share its mean gain."""
    gains, groups = _prepare(ranked, relevant, scores)
    dcg = 0.0
    for start, end in groups:
        if start >= k:
            break
        mean_gain = sum(gains[start:end]) / (end - start)
        dcg += mean_gain * sum(dcg_discount(i) for i in range(start, min(end, k)))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g * dcg_discount(i) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def intra_list_diversity(vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance (1 - cosine) of a list's unit vectors; NaN under two items.

    Uses |Σv|² = Σ_i Σ_j v_i·v_j, so it is O(k·d), not O(k²·d)."""
    n = len(vectors)
    if n < 2:
        return math.nan
    total = vectors.sum(axis=0)
    pair_sum = float(total @ total) - float(np.einsum("ij,ij->", vectors, vectors))
    # clipped: float16-cached vectors can put identical lists a hair below 0
    return min(2.0, max(0.0, 1.0 - pair_sum / (n * (n - 1))))


def mean_log_downloads(downloads: Sequence[int]) -> float:
    """Mean log(1 + downloads); NaN for an empty list."""
    if len(downloads) == 0:
        return math.nan
    return float(np.mean(np.log1p(np.asarray(downloads, dtype=np.float64))))


def coverage(lists: Sequence[Sequence[str]], catalog_size: int, k: int) -> float:
    """Share of the catalog that appears in at least one top-``k`` list."""
    if catalog_size <= 0:
        return 0.0
    return len({m for ranked in lists for m in ranked[:k]}) / catalog_size


# --------------------------------------------------------------------------------------------------
# Bootstrap over queries


def bootstrap_indices(n: int, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """``resamples`` × ``n`` query indices drawn with replacement, from a seeded generator."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_mean_ci(
    values: Sequence[float], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high): the mean over queries and its percentile bootstrap interval.

    NaN values (metrics undefined for a query, e.g. diversity of a one-item list) are left out."""
    data = np.asarray(values, dtype=np.float64)
    data = data[~np.isnan(data)]
    if len(data) == 0:
        return math.nan, math.nan, math.nan
    means = data[bootstrap_indices(len(data), resamples, seed)].mean(axis=1)
    alpha = (1.0 - level) / 2
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(data.mean()), float(low), float(high)


def bootstrap_coverage_ci(
    lists: Sequence[Sequence[str]],
    catalog_size: int,
    k: int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """(coverage, low, high) with queries resampled: a sparse query × item incidence matrix, so
    each resample's coverage is one weighted sum over it.

    Coverage is a statistic of a *set* of lists, not a mean: a resample drawn with replacement holds
    only about 63 % distinct queries, so its coverage is biased low and a plain percentile interval
    would miss the point estimate.  The interval is therefore the percentile interval shifted by the
    bootstrap's bias (point - mean of the resamples), clipped to [0, 1]: its width is the resampling
    spread, its centre the estimate."""
    from scipy import sparse

    point = coverage(lists, catalog_size, k)
    if not lists or catalog_size <= 0:
        return point, math.nan, math.nan
    items: dict[str, int] = {}
    rows, cols = [], []
    for q, ranked in enumerate(lists):
        for m in dict.fromkeys(ranked[:k]):
            rows.append(q)
            cols.append(items.setdefault(m, len(items)))
    incidence = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(lists), max(len(items), 1)))
    picks = bootstrap_indices(len(lists), resamples, seed)
    covered = np.empty(resamples)
    for start in range(0, resamples, 100):  # 100 resamples × items at a time
        block = picks[start : start + 100]
        weights = np.zeros((len(block), len(lists)))
        np.add.at(weights, (np.arange(len(block))[:, None], block), 1.0)
        covered[start : start + len(block)] = (np.asarray((incidence.T @ weights.T).T) > 0).sum(axis=1)
    alpha = (1.0 - level) / 2
    shares = covered / catalog_size
    low, high = np.quantile(shares, [alpha, 1.0 - alpha]) + (point - shares.mean())
    return point, float(np.clip(low, 0.0, 1.0)), float(np.clip(high, 0.0, 1.0))
