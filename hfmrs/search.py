"""Free-text search: "which model fits my need?".

A need is read (:func:`hfmrs.need.understand`) for its task, purpose, languages, size, licence and format.
Candidates come from every retrieval that can find an answer, in one batch of Qdrant searches:

- **dense**: the need's embedding against the models' ``text`` vectors (the search of before);
- **bm25**: the need's words against the soups (model names and tags are words practitioners type);
- per understood purpose and task: the nearest models *of that purpose* and its **most downloaded** ones,
  so "speech to text" finds speech recognition models even when the words match text-to-speech cards;
- per understood language: the nearest models whose card lists it.

One scorer ranks them (:data:`WEIGHTS`, tuned on the tune half of the team's need set): reciprocal ranks
in each source, whether the model does the understood task, purpose and language, the quality prior
(:mod:`hfmrs.quality`: what practitioners use first), a preference for small models when the need says so,
and a penalty for quantized and test copies, which are grouped under the model they copy.  Explicit
constraints (size, memory, licence, format, and any filter the caller gives) filter every source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hfmrs.explain import PURPOSE_NAMES, human_count
from hfmrs.filters import Filters
from hfmrs.need import DOMAINS, Understood
from hfmrs.ranking import reciprocal_ranks, score_key
from hfmrs.recommenders.bm25 import bm25_query
from hfmrs.sizes import format_params
from hfmrs.store.base import BM25, TEXT, Hit, ModelStore, RankedListCache, Search

METHODS = {
    "fused": "Dense and BM25 retrieval plus the understood task, purpose and language, ranked with a quality prior.",
    "cosine": "Dense only: the need's embedding against the models' text vectors (the search of before).",
    "bm25": "Lexical only: BM25 of the need's words against the model soups.",
}
DEFAULT_METHOD = "fused"
SOURCES = ("dense", "bm25", "purpose", "purpose_popular", "task", "task_popular", "language")
MATCHES = ("task", "purpose", "language", "domain", "quality", "small", "copy")
FEATURES = (*(f"rank_{s}" for s in SOURCES), *MATCHES)
RRF_K = 60
POOL = 50  # candidates of the dense and BM25 searches (100 found nothing more on the tune half)
FOCUSED_POOL = 100  # ... of each purpose, task and language search
POPULAR_POOL = 100  # most downloaded of a purpose or task (cached per build: costs nothing per request)
POPULAR_CACHE = 1024
# Tuned on the tune half of data/eval/needs (hfmrs.evaluation.needs); the report half is the README's.
WEIGHTS: dict[str, float] = {
    "rank_dense": 0.25,
    "rank_bm25": 0.5,
    "rank_purpose": 0.5,
    "rank_purpose_popular": 2.0,
    "rank_task": 0.5,
    "rank_task_popular": 0.25,
    "rank_language": 1.5,
    "task": 0.25,
    "purpose": 0.5,
    "language": 1.5,
    "domain": 3.0,
    "quality": 3.0,
    # Tuned to 0 (few needs of the set say "small"); kept at 0.5, which costs the tune half's objective
    # 0.0006, so that "a small model" is not ignored.
    "small": 0.5,
    "copy": -1.5,
}


@dataclass
class Found:
    """A need's candidates: payloads and one feature row each (columns: :data:`FEATURES`)."""

    ids: list[str]
    payloads: list[dict[str, Any]]
    features: np.ndarray


def smallness(params_billions: float | None) -> float:
    """1 for 30M parameters and below, 0.5 at 1B, 0 from 30B up; 0.3 when the size is unknown."""
    if not params_billions:
        return 0.3
    return float(np.clip(0.5 - math.log10(params_billions) / 3, 0.0, 1.0))


class NeedSearch:
    """Ranks the models of one build for free-text needs (one object per open build: it caches the
    most-downloaded lists of purposes and tasks)."""

    def __init__(self, store: ModelStore, weights: Mapping[str, float] | None = None):
        self.store = store
        self.weights = {**WEIGHTS, **(weights or {})}
        self._popular_hits = RankedListCache(store, POPULAR_CACHE)

    def weight_vector(self) -> np.ndarray:
        return np.array([self.weights.get(f, 0.0) for f in FEATURES])

    def searches(
        self, text: str, vector: Sequence[float], need: Understood, filters: Filters
    ) -> list[tuple[str, Search]]:
        """The retrieval searches of one need (the popular ones are served from a cache)."""
        out: list[tuple[str, Search]] = [("dense", Search(TEXT, list(vector), POOL, filters))]
        if (lexical := bm25_query(text)) is not None:
            out.append(("bm25", Search(BM25, lexical, POOL, filters)))
        for i, purpose in enumerate(_focus(need.purposes, filters.purpose)):
            of_purpose = filters.for_purpose(purpose)
            if i == 0:  # the nearest of the main purpose; of a second one, its most used only (cached: free)
                out.append(("purpose", Search(TEXT, list(vector), FOCUSED_POOL, of_purpose)))
            out.append(("purpose_popular", Search(TEXT, None, POPULAR_POOL, of_purpose, order_by="downloads")))
        # A purpose is a task made specific: its searches cover the task's, so tasks are searched only for
        # needs with no purpose ("image generation", "object detection").
        for task in [] if need.purposes and filters.purpose is None else _focus(need.tasks, filters.pipeline_tag):
            of_task = filters.replace(pipeline_tag=task)
            out.append(("task", Search(TEXT, list(vector), FOCUSED_POOL, of_task)))
            out.append(("task_popular", Search(TEXT, None, POPULAR_POOL, of_task, order_by="downloads")))
        for language in _focus(need.languages, filters.language)[:1]:
            out.append(("language", Search(TEXT, list(vector), FOCUSED_POOL, filters.replace(language=language))))
        return out

    def _run(self, searches: list[tuple[str, Search]]) -> list[list[Hit]]:
        """Results of every search: vector searches in one batch, most-downloaded lists from the cache."""
        fresh = [s for _, s in searches if s.order_by is None]
        results = iter(self.store.search_many(fresh))
        return [next(results) if s.order_by is None else self._popular_hits(s) for _, s in searches]

    def candidates(self, text: str, vector: Sequence[float], need: Understood, filters: Filters) -> Found:
        searches = self.searches(text, vector, need, filters)
        found = zip(searches, self._run(searches), strict=True)
        lists = [(FEATURES.index(f"rank_{source}"), hits) for (source, _), hits in found]
        ids, payloads, ranks = reciprocal_ranks(lists, len(SOURCES), filters.exclude, RRF_K)
        features = np.zeros((len(payloads), len(FEATURES)))
        if payloads:
            features[:, : len(SOURCES)] = ranks
            features[:, len(SOURCES) :] = match_features(need, payloads, copies_wanted=filters.format is not None)
        return Found(ids, payloads, features)

    def search(self, text: str, vector: Sequence[float], k: int, need: Understood, filters: Filters) -> list[Hit]:
        """The ``k`` best candidates (more when ties straddle the cut), best first."""
        found = self.candidates(text, vector, need, filters)
        if not found.ids:
            return []
        scores = found.features @ self.weight_vector()
        hits = [Hit(i, float(score), p) for i, score, p in zip(found.ids, scores, found.payloads, strict=True)]
        return sorted(hits, key=score_key)[:k]


_SPLIT = re.compile(r"[-_./\s]+")


def _words(payload: Mapping[str, Any]) -> set[str]:
    """The lower-cased words of a model's name and its tags (what shows a domain)."""
    name = str(payload.get("id") or "").rsplit("/", 1)[-1].lower()
    return {*_SPLIT.split(name), *(t.lower() for t in payload.get("tags") or ())}


MULTILINGUAL_FROM = 10  # a card listing this many languages is multilingual, tagged so or not (Whisper: 99)


def speaks(card_languages: Sequence[str], wanted: set[str]) -> bool:
    """Whether a model's card languages answer the understood ones ("multilingual" is also read from a
    long list)."""
    if not wanted.isdisjoint(card_languages):
        return True
    return "multilingual" in wanted and len(card_languages) >= MULTILINGUAL_FROM


def _focus(values: Sequence[str], explicit: str | None) -> list[str]:
    """The understood values a focused search is run for: the first two (none when the caller fixed it)."""
    return [] if explicit is not None else list(values[:2])


def match_features(need: Understood, payloads: Sequence[Mapping[str, Any]], copies_wanted: bool) -> np.ndarray:
    """The non-rank features (:data:`MATCHES`) of each candidate: the first understood task or purpose
    counts 1, a later one 0.5 ("code search embeddings" is an embeddings need first), and a language
    purpose (``translation:en-de``, ``asr:de``) adds 1 on top: every translator is a translator, the
    English-German one is what was asked."""
    task_credit = {t: 1.0 if i == 0 else 0.5 for i, t in reversed(list(enumerate(need.tasks)))}
    purpose_credit = {p: 1.0 if i == 0 else 0.5 for i, p in reversed(list(enumerate(need.purposes)))}
    languages = set(need.languages)
    domain_words = frozenset().union(*(DOMAINS[d][1] for d in need.domains))
    rows = []
    for p in payloads:
        purposes = p.get("purposes") or ()
        rows.append(
            (
                task_credit.get(p.get("pipeline_tag"), 0.0),
                max((purpose_credit.get(x, 0.0) for x in purposes), default=0.0)
                + any(":" in x and x in purpose_credit for x in purposes),  # the language pair itself
                float(bool(languages) and speaks(p.get("languages") or (), languages)),
                float(bool(domain_words) and not domain_words.isdisjoint(_words(p))),
                float(p.get("quality") or 0.0),
                smallness(p.get("params_billions")) if need.prefer_small else 0.0,
                float(not copies_wanted and bool(p.get("copy") or p.get("test_copy"))),
            )
        )
    return np.array(rows, dtype=float)


class NeedExplainer:
    """``why`` a result fits a need: the understood task, purpose and language it matches, and how widely
    it is used (strongest first)."""

    def __init__(self, need: Understood):
        self.need = need

    def __call__(self, payload: dict[str, Any]) -> list[str]:
        need, reasons = self.need, []
        purposes = payload.get("purposes") or []
        if matched := [p for p in need.purposes if p in purposes]:
            # "asr (de)" says "asr" already: a general purpose is left out beside its specific form
            specific = {p.partition(":")[0] for p in matched if ":" in p}
            shown = [p for p in matched if ":" in p or p not in specific]
            reasons.append("does what you asked: " + ", ".join(purpose_name(p) for p in shown[:2]))
        elif (task := payload.get("pipeline_tag")) in need.tasks:
            reasons.append(f"task: {task}")
        if shared := [lang for lang in need.languages if lang in (payload.get("languages") or [])]:
            reasons.append("language: " + ", ".join(shared))
        if need.filters.get("format") and need.filters["format"] in (payload.get("formats") or []):
            reasons.append(f"ships as {need.filters['format']}")
        if (downloads := payload.get("downloads") or 0) >= WIDELY_USED_DOWNLOADS:
            reasons.append(f"widely used: {human_count(downloads)} downloads")
        if need.prefer_small and (size := payload.get("params_billions")) and size <= SMALL_BILLIONS:
            reasons.append(f"small: {format_params(size)} parameters")
        return reasons


WIDELY_USED_DOWNLOADS = 100_000
SMALL_BILLIONS = 4.0  # "small" said of a model up to this size (a phone runs a 4B chat model)


def purpose_name(purpose: str) -> str:
    """``asr:de`` -> "asr (de)", ``ner`` -> "named-entity recognition"."""
    base, _, detail = purpose.partition(":")
    name = PURPOSE_NAMES.get(base, base)
    return f"{name} ({detail})" if detail else name
