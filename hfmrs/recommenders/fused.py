"""`fused`: candidates from every source, one tuned ranking (the default method).

Each request runs one batch of searches in Qdrant, all under the request's filters:

=========  =====================================================================================
bm25       BM25 over the soups (what the query's name, tags and card say)
dense      cosine on the `text` vectors (the same, paraphrased)
tokens     shared typed feature tokens (the Jaccard candidate pool: task, architecture, data, ...)
family     the query's lineage family (a payload filter): base, children, siblings, copies
purpose    well-used models (>= 10k downloads) of the query's purpose ("sentiment", "asr"), by cosine
popular    the most downloaded models of the query's purpose, of a similar size, and of its language pair
gnn        the `gnn` vectors, when the build has them and their weight is not zero
=========  =====================================================================================

Every candidate gets a feature vector — its reciprocal rank in each source (``60 / (60 + rank)``, 0 when
absent), whether it shares the query's purpose or its language pair, its pipeline tag, how close its
size is, whether
it is of the query's family (:func:`hfmrs.relations.relation`), its quality prior (:mod:`hfmrs.quality`),
and whether it is a copy or a tiny test model — and one linear score.  The weights are tuned on the tune
half of the team's practitioner-judged set (``hfmrs tune``, :mod:`hfmrs.evaluation.tune`); the quality
prior's weight is a setting (``HFMRS_QUALITY_PRIOR``).  No N×N matrix: a few hundred candidates a query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hfmrs.features import lexical_text, sparse_tokens
from hfmrs.filters import Filters
from hfmrs.purpose import SPECIFIC
from hfmrs.ranking import score_key
from hfmrs.recommenders.base import Recommender
from hfmrs.recommenders.bm25 import bm25_query
from hfmrs.relations import relation
from hfmrs.store.base import BM25, GNN, TEXT, TOKENS, Hit, ModelStore, PointData, Search, SparseVector

SOURCES = ("bm25", "dense", "tokens", "family", "purpose", "popular", "popular_size", "popular_language", "gnn")
FEATURES = (
    *(f"rank_{s}" for s in SOURCES),
    "same_purpose",
    "same_language",
    "same_task",
    "similar_size",
    "family",
    "quality",
    "alternative_quality",
    "copy",
    "test_copy",
)
RRF_K = 60
POOL = 50  # candidates per search
POPULAR_POOL = 100  # most downloaded models of a purpose: cheap (a payload-ordered scroll), and wide
FAMILY_POOL = 30
PURPOSE_MIN_DOWNLOADS = 10_000

# Tuned on the tune half of data/eval/judged (see README "Evaluation"); the quality prior's weight is
# HFMRS_QUALITY_PRIOR and not part of this table.
DEFAULT_WEIGHTS: dict[str, float] = {
    "rank_bm25": 1.0,
    "rank_dense": 1.0,
    "rank_tokens": 0.5,
    "rank_family": 0.5,
    "rank_purpose": 0.5,
    "rank_popular": 0.5,
    "rank_popular_size": 0.5,
    "rank_popular_language": 0.5,
    "rank_gnn": 0.0,
    "same_purpose": 0.5,
    "same_language": 0.3,
    "same_task": 0.3,
    "similar_size": 0.2,
    "family": 0.3,
    "alternative_quality": 0.0,
    "copy": -0.6,
    "test_copy": -2.0,
}


@dataclass
class Candidates:
    """One query's candidates: ids, payloads and a feature row each (columns: :data:`FEATURES`)."""

    ids: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, len(FEATURES))))


def main_purpose(payload: Mapping[str, Any]) -> str | None:
    """The purpose a model is chosen for: its first specific one, else its general one ("asr")."""
    purposes = [p for p in payload.get("purposes") or [] if ":" not in p]
    return next((p for p in purposes if p in SPECIFIC), purposes[0] if purposes else None)


def size_closeness(a: float | None, b: float | None) -> float:
    """1 for the same size, 0.5 for twice or half, 0.25 for four times; 0.5 when either is unknown."""
    if not a or not b:
        return 0.5
    return float(0.5 ** abs(np.log2(a / b)))


def language_purposes(payload: Mapping[str, Any]) -> set[str]:
    return {p for p in payload.get("purposes") or [] if ":" in p}


class FusedRecommender(Recommender):
    name = "fused"
    description = (
        "Candidates from BM25, dense, shared tokens, the model's family and same-purpose models, "
        "ranked by one tuned scorer with a quality prior."
    )
    needs_vectors = (TEXT, GNN)

    def __init__(
        self,
        store: ModelStore,
        weights: Mapping[str, float] | None = None,
        quality_prior: float = 1.0,
        gnn_trained: bool = False,
    ):
        super().__init__(store)
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.quality_prior = quality_prior
        self.use_gnn = gnn_trained and self.weights.get("rank_gnn", 0.0) != 0.0

    def weight_vector(self) -> np.ndarray:
        return np.array([self.quality_prior if f == "quality" else self.weights.get(f, 0.0) for f in FEATURES])

    def searches(self, query: PointData, filters: Filters) -> list[tuple[str, Search]]:
        """The source searches of one query (the sources it has nothing to search with are left out)."""
        payload, vectors = query.payload, query.vectors
        found: list[tuple[str, Search]] = []
        if (bm25 := bm25_query(lexical_text(payload.get("soup") or "", payload.get("author")))) is not None:
            found.append(("bm25", Search(BM25, bm25, POOL, filters)))
        text = vectors.get(TEXT)
        if text is not None:
            found.append(("dense", Search(TEXT, text, POOL, filters)))
        if payload.get("tokens"):
            indices, values = sparse_tokens(payload["tokens"])
            found.append(("tokens", Search(TOKENS, SparseVector(indices, values), POOL, filters)))
        if text is not None and payload.get("family") and filters.family is None:
            found.append(("family", Search(TEXT, text, FAMILY_POOL, filters.replace(family=payload["family"]))))
        purpose = main_purpose(payload)
        if text is not None and purpose and filters.purpose is None:
            well_used = filters.for_purpose(purpose, popular=PURPOSE_MIN_DOWNLOADS)
            found.append(("purpose", Search(TEXT, text, POOL, well_used)))
        if self.use_gnn and (gnn := vectors.get(GNN)) is not None:
            found.append(("gnn", Search(GNN, gnn, POOL, filters)))
        return found

    def popular(self, query: PointData, filters: Filters) -> list[tuple[str, Search]]:
        """The most downloaded models of the query's main purpose (also of a similar size) and of its
        language pair."""
        if filters.purpose is not None:
            return []
        out = []
        if purpose := main_purpose(query.payload):
            same = filters.for_purpose(purpose)
            out.append(("popular", Search(TEXT, None, POPULAR_POOL, same, order_by="downloads")))
            if size := query.payload.get("params_billions"):  # of a similar size: a third to three times
                band = same.with_size_between(size / 3, size * 3)
                out.append(("popular_size", Search(TEXT, None, POOL, band, order_by="downloads")))
        for language in sorted(language_purposes(query.payload))[:1]:
            by_language = filters.for_purpose(language)
            out.append(("popular_language", Search(TEXT, None, POOL, by_language, order_by="downloads")))
        return out

    def candidates(self, query: PointData, filters: Filters) -> Candidates:
        """Every source's hits, merged, with one feature row per candidate."""
        searches = [*self.searches(query, filters), *self.popular(query, filters)]
        results = self.store.search_many([s for _, s in searches])
        rows: dict[str, dict[str, float]] = {}
        payloads: dict[str, dict[str, Any]] = {}
        for (source, _), hits in zip(searches, results, strict=True):
            for rank, hit in enumerate(hits):
                if hit.model_id in filters.exclude:
                    continue
                payloads.setdefault(hit.model_id, hit.payload)
                row = rows.setdefault(hit.model_id, {})
                row[f"rank_{source}"] = max(row.get(f"rank_{source}", 0.0), RRF_K / (RRF_K + rank))
        q = query.payload
        q_purpose, q_languages, q_task = main_purpose(q), language_purposes(q), q.get("pipeline_tag")
        q_size = q.get("params_billions")
        for model_id, row in rows.items():
            p = payloads[model_id]
            purposes = p.get("purposes") or ()
            row["same_purpose"] = float(q_purpose is not None and q_purpose in purposes)
            row["same_language"] = float(bool(q_languages and q_languages.intersection(purposes)))
            row["same_task"] = float(q_task is not None and q_task == p.get("pipeline_tag"))
            row["similar_size"] = size_closeness(q_size, p.get("params_billions"))
            row["family"] = float(relation(q, p) == "family")
            row["quality"] = float(p.get("quality") or 0.0)
            row["alternative_quality"] = row["quality"] * (1.0 - row["family"])
            row["copy"] = float(bool(p.get("copy")))
            row["test_copy"] = float(bool(p.get("test_copy")) and not q.get("test_copy"))
        ids = list(rows)
        features = np.array([[rows[m].get(f, 0.0) for f in FEATURES] for m in ids]) if ids else None
        return Candidates(ids, [payloads[m] for m in ids], features if features is not None else Candidates().features)

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        found = self.candidates(query, filters)
        if not found.ids:
            return []
        weights = self.weight_vector()
        scores = found.features @ weights
        prior = found.features[:, FEATURES.index("quality")] * self.quality_prior
        hits = [
            # The prior's share rides along for `why` ("widely used"): relative to the typical candidate.
            Hit(model_id, float(score), {**payload, "_prior": float(lift)})
            for model_id, payload, score, lift in zip(
                found.ids, found.payloads, scores, prior - float(np.median(prior)), strict=True
            )
        ]
        hits.sort(key=score_key)
        return hits[:k]


def fused_from_manifest(store: ModelStore, settings: Any, manifest: dict[str, Any]) -> FusedRecommender:
    training = manifest.get("training") or {}
    return FusedRecommender(store, quality_prior=settings.quality_prior, gnn_trained=bool(training.get("gnn")))


__all__ = ["DEFAULT_WEIGHTS", "FEATURES", "SOURCES", "Candidates", "FusedRecommender", "fused_from_manifest"]


def score_candidates(candidates: Candidates, weights: Sequence[float]) -> np.ndarray:
    """Scores of a candidate set under a weight vector (tuning re-scores cached candidates with this)."""
    return candidates.features @ np.asarray(weights)
