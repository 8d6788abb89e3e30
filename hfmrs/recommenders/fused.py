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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hfmrs.features import lexical_text, sparse_tokens
from hfmrs.filters import Filters
from hfmrs.purpose import main_purpose
from hfmrs.ranking import reciprocal_ranks, score_key
from hfmrs.recommenders.base import Recommender
from hfmrs.recommenders.bm25 import bm25_query
from hfmrs.relations import ALTERNATIVES_SHARE, RelationTo
from hfmrs.store.base import (
    BM25,
    GNN,
    TEXT,
    TOKENS,
    Hit,
    ModelStore,
    PointData,
    RankedListCache,
    Search,
    SparseVector,
)

SOURCES = ("bm25", "dense", "tokens", "family", "purpose", "popular", "popular_size", "popular_language", "gnn")
MODEL_FEATURES = (  # of the candidate against the query, in FusedRecommender._model_features' order
    "same_purpose",
    "same_language",
    "same_task",
    "similar_size",
    "family",
    "same_author",
    "quality",
    "family_quality",
    "alternative_quality",
    "copy",
    "test_copy",
)
FEATURES = (*(f"rank_{s}" for s in SOURCES), *MODEL_FEATURES, "underused")
RRF_K = 60
POOL = 30  # candidates per search (50 gave the judged set nothing and cost a millisecond)
POPULAR_POOL = 100  # most downloaded models of a purpose: cheap (a payload-ordered scroll, cached), and wide
POPULAR_BAND_POOL = 50  # ... of the purpose in the query's size band, and of its language pair
POPULAR_CACHE = 4096  # cached most-downloaded lists (purpose x size band x filters)
FAMILY_POOL = 30
PURPOSE_MIN_DOWNLOADS = 10_000

# A rule, not a tuned weight: a model under 100 downloads ranks after every other candidate when five
# models of its purpose (under the request's filters) have ten times its downloads — a practitioner
# never wants the 90-download personal fine-tune while the well-known models go unlisted.
UNDERUSED_DOWNLOADS = 100
UNDERUSED_MARGIN, UNDERUSED_PEERS = 10, 5
FIXED_WEIGHTS: dict[str, float] = {"underused": -10.0}

# Tuned on the tune half of data/eval/judged (see README "Evaluation"); the quality prior's weight is
# HFMRS_QUALITY_PRIOR and not part of this table.
DEFAULT_WEIGHTS: dict[str, float] = {
    "rank_bm25": 1.5,
    "rank_dense": 1.0,
    "rank_tokens": 0.75,
    "rank_family": 0.5,
    "rank_purpose": 0.5,
    "rank_popular": 0.5,
    "rank_popular_size": 0.5,
    "rank_popular_language": 0.5,
    "rank_gnn": 0.0,
    "same_purpose": 0.0,
    "same_language": 0.3,
    "same_task": 0.3,
    "similar_size": 0.5,
    "family": 0.75,
    "same_author": 0.25,
    "family_quality": 0.75,
    "alternative_quality": 0.75,
    "copy": -0.25,
    "test_copy": -2.0,
    **FIXED_WEIGHTS,
}


@dataclass
class Candidates:
    """One query's candidates: ids, payloads and a feature row each (columns: :data:`FEATURES`)."""

    ids: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, len(FEATURES))))


def size_closeness(a: float | None, b: float | None) -> float:
    """1 for the same size, 0.5 for twice or half, 0.25 for four times; 0.5 when either is unknown."""
    if not a or not b:
        return 0.5
    return 0.5 ** abs(math.log2(a / b))


def language_purposes(payload: Mapping[str, Any]) -> set[str]:
    return {p for p in payload.get("purposes") or [] if ":" in p}


class FusedRecommender(Recommender):
    name = "fused"
    description = (
        "Candidates from BM25, dense, shared tokens, the model's family and same-purpose models, "
        "ranked by one tuned scorer with a quality prior."
    )
    needs_vectors = (TEXT, GNN)
    alternatives_share = ALTERNATIVES_SHARE

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
        self._popular_hits = RankedListCache(store, POPULAR_CACHE)

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
                size = 2 ** (round(math.log2(size) * 2) / 2)  # on a half-octave grid: one cached list per band
                band = same.with_size_between(size / 3, size * 3)
                out.append(("popular_size", Search(TEXT, None, POPULAR_BAND_POOL, band, order_by="downloads")))
        for language in sorted(language_purposes(query.payload))[:1]:
            by_language = filters.for_purpose(language)
            out.append(("popular_language", Search(TEXT, None, POPULAR_BAND_POOL, by_language, order_by="downloads")))
        return out

    def candidates(self, query: PointData, filters: Filters) -> Candidates:
        """Every source's hits, merged, with one feature row per candidate."""
        searches = self.searches(query, filters)
        popular = self.popular(query, filters)
        results = self.store.search_many([s for _, s in searches])
        # The most-downloaded lists do not depend on the query beyond its purpose (and size band): cached
        # per build (this object lives as long as its build), keyed without the excluded query.
        searches += popular
        results += [self._popular_hits(search) for _, search in popular]
        lists = [(FEATURES.index(f"rank_{source}"), hits) for (source, _), hits in zip(searches, results, strict=True)]
        ids, payloads, ranks = reciprocal_ranks(lists, len(SOURCES), filters.exclude, RRF_K)
        features = np.zeros((len(payloads), len(FEATURES)))
        if payloads:
            features[:, : len(SOURCES)] = ranks  # a model's best rank in each source
            features[:, len(SOURCES) : len(SOURCES) + len(MODEL_FEATURES)] = self._model_features(
                query.payload, payloads
            )
            peer_downloads: dict[str, int | None] = {}  # per purpose, for this request's candidates
            features[:, -1] = [self._underused(p, filters, peer_downloads) for p in payloads]
        return Candidates(ids, payloads, features)

    def _underused(self, payload: Mapping[str, Any], filters: Filters, peer_downloads: dict[str, int | None]) -> bool:
        """Under 100 downloads while five models of its purpose have ten times as many (see FIXED_WEIGHTS)."""
        downloads = payload.get("downloads") or 0
        if downloads >= UNDERUSED_DOWNLOADS or (purpose := main_purpose(payload)) is None:
            return False
        if purpose not in peer_downloads:
            same_purpose = filters.for_purpose(purpose)
            most_used = self._popular_hits(Search(TEXT, None, POPULAR_POOL, same_purpose, order_by="downloads"))
            peers = most_used[UNDERUSED_PEERS - 1 : UNDERUSED_PEERS]
            peer_downloads[purpose] = (peers[0].payload.get("downloads") or 0) if peers else None
        fifth = peer_downloads[purpose]
        return fifth is not None and fifth >= UNDERUSED_MARGIN * max(downloads, 1)

    @staticmethod
    def _model_features(q: Mapping[str, Any], payloads: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The non-rank features (:data:`FEATURES` after the ranks) of each candidate against the query."""
        q_purpose, q_languages, q_task = main_purpose(q), language_purposes(q), q.get("pipeline_tag")
        q_size, q_author, q_test = q.get("params_billions"), q.get("author"), bool(q.get("test_copy"))
        relation = RelationTo(q)
        rows = []
        for p in payloads:
            purposes = p.get("purposes") or ()
            family = relation(p) == "family"
            quality = float(p.get("quality") or 0.0)
            rows.append(
                (
                    q_purpose is not None and q_purpose in purposes,  # same_purpose
                    bool(q_languages) and not q_languages.isdisjoint(purposes),  # same_language
                    q_task is not None and q_task == p.get("pipeline_tag"),  # same_task
                    size_closeness(q_size, p.get("params_billions")),  # similar_size
                    family,  # family
                    bool(q_author) and q_author == p.get("author"),  # same_author
                    quality,  # quality
                    quality if family else 0.0,  # family_quality
                    0.0 if family else quality,  # alternative_quality
                    bool(p.get("copy")),  # copy
                    bool(p.get("test_copy")) and not q_test,  # test_copy
                )
            )
        return np.array(rows, dtype=float)

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        found = self.candidates(query, filters)
        if not found.ids:
            return []
        scores = found.features @ self.weight_vector()
        prior = found.features[:, FEATURES.index("quality")] * self.quality_prior
        lift = prior - float(np.median(prior))  # the prior's share, relative to the typical candidate
        is_copy = np.array([bool(p.get("copy") or p.get("test_copy")) for p in found.payloads])
        # The top k, and the best k/2 originals: the engine groups copies under their originals and puts
        # copies beyond two last, so a list of copy-heavy candidates must still hold enough originals.
        keep = set(_top(scores, k)) | set(np.flatnonzero(~is_copy)[_top(scores[~is_copy], k // 2)])
        # `_prior` rides along for `why` ("widely used").
        score_of, lift_of = scores.tolist(), lift.tolist()  # Python floats at once, not a numpy scalar each
        ranked = sorted(
            (Hit(found.ids[i], score_of[i], {**found.payloads[i], "_prior": lift_of[i]}) for i in keep),
            key=score_key,
        )
        room_for_copies = k - min(k // 2, int((~is_copy[list(keep)]).sum()))
        hits = []
        for hit in ranked:
            if len(hits) == k:
                break
            if hit.payload.get("copy") or hit.payload.get("test_copy"):
                if not room_for_copies:
                    continue
                room_for_copies -= 1
            hits.append(hit)
        return hits


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the ``k`` best scores and of whatever ties the k-th (score_key breaks the ties)."""
    if k <= 0 or not len(scores):
        return np.zeros(0, dtype=int)
    if len(scores) <= k:
        return np.arange(len(scores))
    return np.flatnonzero(scores >= np.partition(scores, -k)[-k] - 1e-6)


def fused_from_manifest(store: ModelStore, settings: Any, manifest: dict[str, Any]) -> FusedRecommender:
    training = manifest.get("training") or {}
    return FusedRecommender(store, quality_prior=settings.quality_prior, gnn_trained=bool(training.get("gnn")))


__all__ = [
    "DEFAULT_WEIGHTS",
    "FEATURES",
    "FIXED_WEIGHTS",
    "SOURCES",
    "Candidates",
    "FusedRecommender",
    "fused_from_manifest",
]


def score_candidates(candidates: Candidates, weights: Sequence[float]) -> np.ndarray:
    """Scores of a candidate set under a weight vector (tuning re-scores cached candidates with this)."""
    return candidates.features @ np.asarray(weights)
