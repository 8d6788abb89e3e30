"""Tuning the fused method's weights on the tune half of the judged set (never on the report half).

Each tune query's candidates are collected once (:meth:`FusedRecommender.candidates`: the Qdrant
searches); a weight vector then only re-scores them, collapses copies as the engine does, and is
judged by nDCG@10 (graded) plus a third of recall@100.  Coordinate ascent: each weight in turn takes the
best of a small grid around its value, for a few rounds; a change must gain at least ``MIN_GAIN`` so the
result does not chase noise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hfmrs.engine import Engine
from hfmrs.evaluation import metrics as m
from hfmrs.evaluation.judged import JudgedQuery
from hfmrs.filters import Filters
from hfmrs.ranking import score_key
from hfmrs.recommenders.fused import FEATURES, FIXED_WEIGHTS, Candidates, FusedRecommender
from hfmrs.relations import MAX_SHOWN_COPIES, RelationTo, collapse, copy_group, make_room_for_alternatives
from hfmrs.store.base import Hit

log = logging.getLogger(__name__)

GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
PENALTY_GRID = (0.0, -0.25, -0.5, -1.0, -2.0, -4.0)
MIN_GAIN = 0.002
RECALL_SHARE = 1 / 3


@dataclass
class TuneQuery:
    query: dict[str, Any]
    candidates: Candidates
    relevant: dict[str, float]


@dataclass
class TuneResult:
    weights: dict[str, float]
    objective: float
    ndcg10: float
    recall100: float
    history: list[dict[str, Any]] = field(default_factory=list)


def collect(engine: Engine, judged: Sequence[JudgedQuery], fused: FusedRecommender) -> list[TuneQuery]:
    """Each query's candidates, once (the expensive part: Qdrant searches)."""
    out = []
    for q in judged:
        point = engine.store.retrieve([q.query], with_vectors=fused.needs_vectors)[0]
        found = fused.candidates(point, Filters().with_exclude(q.query))
        out.append(TuneQuery(point.payload, found, {m_: float(g) for m_, g in q.judged.items()}))
    return out


def ranked(query: TuneQuery, weights: np.ndarray, k: int = 100) -> list[str]:
    """The ids a user would see: scored, ordered with the engine's tie-break, copies collapsed."""
    c = query.candidates
    scores = c.features @ weights
    hits = sorted((Hit(i, float(s), p) for i, s, p in zip(c.ids, scores, c.payloads, strict=True)), key=score_key)
    heads = collapse(query.query, [h.payload for h in hits], max_copies=MAX_SHOWN_COPIES)
    relation_of = RelationTo(query.query)
    relations = ["copy" if copy_group(query.query, hits[i].payload) else relation_of(hits[i].payload) for i, _ in heads]
    order = make_room_for_alternatives(relations)
    return [hits[heads[j][0]].model_id for j in order][:k]


def objective(queries: Sequence[TuneQuery], weights: np.ndarray) -> tuple[float, float, float]:
    """(what is maximised, nDCG@10, recall@100).  nDCG counts half with the grades (family 2) and half with
    every judged model alike, so neither the family nor the alternatives can be traded away."""
    ndcg = recall = 0.0
    for q in queries:
        ids = ranked(q, weights)
        binary = dict.fromkeys(q.relevant, 1.0)
        ndcg += (m.ndcg_at_k(ids, q.relevant, 10) + m.ndcg_at_k(ids, binary, 10)) / 2
        recall += m.recall_at_k(ids, q.relevant, 100)
    n = max(len(queries), 1)
    return (ndcg + RECALL_SHARE * recall) / n, ndcg / n, recall / n


def tune_weights(
    queries: Sequence[TuneQuery],
    start: Mapping[str, float],
    quality_prior: float,
    rounds: int = 3,
    tuned: Sequence[str] | None = None,
    progress: Callable[[str], None] = log.info,
) -> TuneResult:
    """Coordinate ascent over the fused weights (the quality prior is the column ``quality``)."""
    weights = {f: float(start.get(f, 0.0)) for f in FEATURES}
    weights["quality"] = quality_prior
    names = list(tuned or [f for f in FEATURES if f not in FIXED_WEIGHTS and (f != "rank_gnn" or weights[f])])
    best, ndcg, recall = objective(queries, np.array([weights[f] for f in FEATURES]))
    history = [{"round": 0, "objective": best, "ndcg@10": ndcg, "recall@100": recall}]
    for round_ in range(1, rounds + 1):
        changed = False
        for name in names:
            grid = PENALTY_GRID if name in ("copy", "test_copy") else GRID
            for value in grid:
                trial = {**weights, name: value}
                score, n10, r100 = objective(queries, np.array([trial[f] for f in FEATURES]))
                if score > best + MIN_GAIN:
                    best, ndcg, recall, weights, changed = score, n10, r100, trial, True
            progress(f"round {round_}, {name} = {weights[name]}: objective {best:.4f}")
        history.append({"round": round_, "objective": best, "ndcg@10": ndcg, "recall@100": recall})
        if not changed:
            break
    return TuneResult(weights, best, ndcg, recall, history)


@dataclass
class TuneReport:
    """Shipped and tuned weights, and both halves' (objective, nDCG@10, recall@100) under each."""

    shipped: dict[str, float]
    tuned: TuneResult
    halves: dict[str, dict[str, tuple[float, float, float]]]  # half -> {"shipped"|"tuned": scores}


def tune_on_judged(
    engine: Engine, judged: Sequence[JudgedQuery], rounds: int = 3, progress: Callable[[str], None] = log.info
) -> TuneReport:
    """Tune the fused weights on the tune half of ``judged`` and score both halves with the shipped and the
    tuned weights: the report half says whether a change generalises (ship it only when it does)."""
    fused = engine.recommenders.get("fused")
    if not isinstance(fused, FusedRecommender):
        raise ValueError("the served build has no fused method")
    by_half = {half: collect(engine, [q for q in judged if q.half == half], fused) for half in ("tune", "report")}
    if not by_half["tune"]:
        raise ValueError("no judged query of the tune half is in this build's catalog")
    shipped = {f: (fused.quality_prior if f == "quality" else fused.weights.get(f, 0.0)) for f in FEATURES}
    tuned = tune_weights(by_half["tune"], fused.weights, fused.quality_prior, rounds=rounds, progress=progress)
    vectors = {
        "shipped": np.array([shipped[f] for f in FEATURES]),
        "tuned": np.array([tuned.weights[f] for f in FEATURES]),
    }
    halves = {half: {name: objective(qs, v) for name, v in vectors.items()} for half, qs in by_half.items() if qs}
    return TuneReport(shipped, tuned, halves)
