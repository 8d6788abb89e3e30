"""K-means over the `text` vectors, with K chosen automatically.

Every K in the configured range is fitted (MiniBatchKMeans: linear in the catalog, no N×N matrix)
and scored four ways: the elbow of the inertia curve, the silhouette (on a seeded sample, since the
exact score is quadratic), Davies-Bouldin and Calinski-Harabasz.  Each criterion ranks the Ks; the
chosen K has the best mean rank (ties go to the smaller K).  No single criterion decides because on
sentence embeddings they disagree: Calinski-Harabasz keeps preferring few clusters, inertia keeps
falling, the silhouette is flat.  The whole curve and every criterion's pick are returned so the
report can show why K is what it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

log = logging.getLogger(__name__)

RULE = "min mean rank over elbow distance, silhouette (desc), Davies-Bouldin (asc), Calinski-Harabasz (desc)"


@dataclass
class KMeansResult:
    k: int
    labels: np.ndarray  # cluster id per row of the input, 0..k-1
    summary: dict[str, Any]  # curve, per-criterion picks, the choice (JSON-ready)


def k_range(n: int, k_min: int, k_max: int, step: int) -> list[int]:
    """The Ks to try, clipped so every K is a valid clustering of ``n`` points (2 <= K <= n - 1)."""
    upper = min(k_max, n - 1)
    ks = list(range(min(k_min, upper), upper + 1, step)) if upper >= 2 else []
    return [k for k in ks if k >= 2]


def _fit(x: np.ndarray, k: int, seed: int) -> MiniBatchKMeans:
    # One k-means++ start per K: with a dozen Ks in the sweep, extra restarts cost more than the
    # small gain in inertia is worth.
    model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1, batch_size=2048, max_iter=100)
    return model.fit(x)


def elbow(ks: list[int], inertia: list[float]) -> int:
    """Kneedle: the K whose normalised inertia lies furthest below the chord from first to last K."""
    if len(ks) < 3:
        return ks[0]
    k = np.asarray(ks, dtype=float)
    y = np.asarray(inertia, dtype=float)
    xn = (k - k[0]) / (k[-1] - k[0])
    span = y.max() - y.min()
    yn = (y - y.min()) / span if span > 0 else np.zeros_like(y)
    # The chord of a falling curve runs from (0, 1) to (1, 0); distance below it is (1 - x) - y.
    return int(ks[int(np.argmax((1 - xn) - yn))])


def choose_k(curve: list[dict[str, float]]) -> tuple[int, dict[str, Any]]:
    """K with the best mean rank over the four criteria; returns it and each criterion's pick."""
    ks = [int(row["k"]) for row in curve]
    knee = elbow(ks, [row["inertia"] for row in curve])
    # rank 0 = best; stable sorts with K as the tie-break keep the ranking deterministic
    criteria = {
        "elbow": sorted(ks, key=lambda k: (abs(k - knee), k)),
        "silhouette": [int(r["k"]) for r in sorted(curve, key=lambda r: (-r["silhouette"], r["k"]))],
        "davies_bouldin": [int(r["k"]) for r in sorted(curve, key=lambda r: (r["davies_bouldin"], r["k"]))],
        "calinski_harabasz": [int(r["k"]) for r in sorted(curve, key=lambda r: (-r["calinski_harabasz"], r["k"]))],
    }
    mean_rank = {k: float(np.mean([order.index(k) for order in criteria.values()])) for k in ks}
    chosen = min(ks, key=lambda k: (mean_rank[k], k))
    picks = {name: order[0] for name, order in criteria.items()}
    return chosen, {"picks": picks, "mean_rank": {str(k): round(v, 3) for k, v in mean_rank.items()}}


def _sweep(
    x: np.ndarray, ks: list[int], sample_idx: np.ndarray, seed: int, show: bool
) -> tuple[list[dict[str, float]], dict[int, MiniBatchKMeans]]:
    curve: list[dict[str, float]] = []
    models: dict[int, MiniBatchKMeans] = {}
    from rich.progress import track

    for k in track(ks, description="k-means sweep", transient=True, disable=not show):
        model = _fit(x, k, seed)
        labels = model.predict(x)
        sampled = labels[sample_idx]
        distinct = len(set(sampled.tolist()))
        curve.append(
            {
                "k": k,
                "inertia": float(model.inertia_),
                # silhouette needs 2 <= distinct labels <= samples - 1 in the sample
                "silhouette": float(
                    silhouette_score(x[sample_idx], sampled, metric="euclidean")
                    if 2 <= distinct < len(sample_idx)
                    else -1.0
                ),
                "davies_bouldin": float(davies_bouldin_score(x, labels)),
                "calinski_harabasz": float(calinski_harabasz_score(x, labels)),
            }
        )
        models[k] = model
        log.debug("k-means K=%d %s", k, curve[-1])
    return curve, models


def fit_kmeans(x: np.ndarray, k_min: int, k_max: int, step: int, sample: int, seed: int) -> KMeansResult:
    """Sweep K, choose one, and return its labels with the curve.  ``x`` rows are L2-normalised, so
    Euclidean k-means approximates clustering by cosine similarity."""
    n = len(x)
    ks = k_range(n, k_min, k_max, step)
    if not ks:  # too few points to cluster: one cluster keeps the method well defined
        return KMeansResult(1, np.zeros(n, dtype=int), {"k": 1, "curve": [], "rule": "fewer than 3 models"})
    rng = np.random.default_rng(seed)
    sample_idx = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    from threadpoolctl import threadpool_limits

    # Single-threaded BLAS/OpenMP: on shared CPUs OpenMP's busy-waiting threads made one fit eight
    # times slower, while a single-threaded fit takes about a second; results don't depend on it.
    with threadpool_limits(limits=1):
        curve, models = _sweep(x, ks, sample_idx, seed, show=n >= 1000)
    chosen, detail = choose_k(curve)
    labels = models[chosen].predict(x)
    sizes = np.bincount(labels, minlength=chosen)
    summary = {
        "k": chosen,
        "curve": [{key: round(v, 6) if isinstance(v, float) else v for key, v in row.items()} for row in curve],
        "rule": RULE,
        **detail,
        "silhouette_sample": len(sample_idx),
        "cluster_sizes": {"min": int(sizes.min()), "median": int(np.median(sizes)), "max": int(sizes.max())},
    }
    log.info("k-means: chose K=%d (picks %s)", chosen, detail["picks"])
    return KMeansResult(chosen, labels, summary)
