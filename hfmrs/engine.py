"""The engine: one serving build, every method, and what all frontends share.

CLI, API, UI and extension all go through :class:`Engine`: it resolves ids and aliases (with "did you
mean"), validates arguments, runs a method, orders results deterministically, and explains them.
Frontends only parse input and format output.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from pydantic import Field

from hfmrs.diversity import diversify
from hfmrs.explain import Explainer
from hfmrs.filters import Filters, public_fields
from hfmrs.ids import IdIndex, UnknownModelError
from hfmrs.need import KEYS as NEED_KEYS
from hfmrs.need import Understood
from hfmrs.need import understand as understand_need
from hfmrs.ranking import fetch_past_ties, match_percents, order
from hfmrs.recommenders import Recommender, make_recommenders
from hfmrs.recommenders.bm25 import bm25_query
from hfmrs.relations import (
    ALTERNATIVES_PAGE,
    MAX_SHOWN_COPIES,
    RELATIONS,
    RelationTo,
    copy_group,
    make_room_for_alternatives,
)
from hfmrs.relations import collapse as collapse_copies
from hfmrs.search import DEFAULT_METHOD as DEFAULT_SEARCH_METHOD
from hfmrs.search import METHODS as SEARCH_METHODS
from hfmrs.search import NeedExplainer, NeedSearch
from hfmrs.settings import Settings
from hfmrs.store.base import BM25, TEXT, Hit, ModelStore
from hfmrs.store.builds import ID_INDEX_DIR, Builds, NoBuildError, open_builds
from hfmrs.store.cards import CARDS_DIR, HitCards

log = logging.getLogger(__name__)

K_MIN, K_MAX = 1, 100
SORTS = ("score", "downloads-desc", "downloads-asc", "likes", "recent", "trending", "leaderboard")
# Sorts by a fact only some models have: (payload field, what it is, who has it).  Models without it
# follow in score order, and the response says how many had it.
PARTIAL_SORTS = {
    "likes": ("likes", "likes", "models in the 2026 snapshot or the Open LLM Leaderboard"),
    "leaderboard": ("leaderboard_average", "an Open LLM Leaderboard v2 score", "LLMs evaluated there"),
}
MAX_ID_LENGTH = 200
# Every list is cut from at least FETCH_FLOOR·diversity_pool candidates, so the first j results of k=j and
# of k=30 (the UI's most) agree; a tie at the cut fetches further, up to MAX_FETCH.
FETCH_FLOOR = 30
MAX_FETCH = 2000
MAX_QUERY_LENGTH = 1000


@dataclass
class Recommendation:
    """One model in a list of results (the public API's result shape is this dataclass)."""

    id: Annotated[str, Field(description="Canonical Hub id.")]
    score: Annotated[float, Field(description="The method's score (higher is more similar).")]
    match: Annotated[
        int,
        Field(
            description="0-100, for readers: the score itself for cosine-like methods (100 = identical), "
            "else relative to the best score of the unfiltered list."
        ),
    ]
    downloads: int
    likes: Annotated[int | None, Field(description="Likes; null where no snapshot has them.")]
    pipeline_tag: str | None
    library: str | None
    last_modified: str | None
    why: Annotated[list[str], Field(description="Evidence shared with the query model.")] = field(default_factory=list)
    license: str | None = None
    params_billions: Annotated[float | None, Field(description="Parameters in billions (null: unknown).")] = None
    params_source: Annotated[
        str | None,
        Field(
            description="Where the size comes from: safetensors or listed (exact); lineage, name, family (estimates)."
        ),
    ] = None
    weight_format: Annotated[
        str | None,
        Field(description="Quantized storage format (gguf, awq, gptq, fp8, mlx-4bit, ...); null: full precision."),
    ] = None
    leaderboard_average: Annotated[
        float | None, Field(description="Open LLM Leaderboard v2 average score (0-100), LLMs only.")
    ] = None
    relation: Annotated[
        str | None,
        Field(
            description="family: the query's lineage or release (base, child, sibling, size variant, copy); "
            "alternative: another model for the same job. Null for free-text search."
        ),
    ] = None
    variants: Annotated[
        list[str], Field(description="Quantized, format and test copies of this model, grouped under it.")
    ] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Similar:
    """A list of results: the models like a model (or, for a search, matching a text)."""

    query: Annotated[str, Field(description="Canonical id of the query model, or the text searched for.")]
    method: str
    results: list[Recommendation]
    unknown_size: Annotated[
        int | None,
        Field(description="Models of unknown size a size filter left out (null when no size filter was given)."),
    ] = None
    notes: Annotated[list[str], Field(description="What to know about this list (left-out models, partial sorts).")] = (
        field(default_factory=list)
    )


@dataclass
class SearchResult(Similar):
    """A free-text search's results, and what the text was read to ask for."""

    understood: Annotated[
        dict[str, Any],
        Field(
            description="What the text was read to ask for. tasks, purposes and languages rank; "
            'size "small" prefers small models; filter names (a size or memory limit, license, commercial, '
            "format, ...) were applied as filters. Remove a part with ignore=<key>."
        ),
    ] = field(default_factory=dict)


@dataclass
class ModelSummary:
    """An id with its downloads (autocomplete)."""

    id: str
    downloads: int


@dataclass
class MethodInfo:
    """A recommendation method of the serving build."""

    name: str
    description: str
    default: bool


def validate(k: int, sort: str, methods: Sequence[str], method: str) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or not K_MIN <= k <= K_MAX:
        raise ValueError(f"k must be an integer from {K_MIN} to {K_MAX}, got {k!r}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose one of: {', '.join(SORTS)}")
    if method not in methods:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(methods)}")


def validate_diversity(diversity: float | None, per_author: int | None) -> None:
    if diversity is not None and (
        isinstance(diversity, bool) or not isinstance(diversity, (int, float)) or not 0.0 <= diversity <= 1.0
    ):
        raise ValueError(f"diversity must be a number from 0 to 1 (the MMR lambda), got {diversity!r}")
    if per_author is not None and (isinstance(per_author, bool) or not isinstance(per_author, int) or per_author < 1):
        raise ValueError(f"per_author must be a positive integer, got {per_author!r}")


class Engine:
    """Serves one build: a store handle, its id index and manifest, and the recommenders over it."""

    def __init__(self, store: ModelStore, ids: IdIndex, manifest: dict[str, Any], settings: Settings):
        self.store = store
        self.ids = ids
        self.manifest = manifest
        self.settings = settings
        self.build_id: str = manifest.get("build_id", "")
        self.recommenders: dict[str, Recommender] = {
            name: rec for name, rec in make_recommenders(store, settings, manifest).items() if rec.available()
        }
        self.need_search = NeedSearch(store)

    @classmethod
    def open(cls, settings: Settings, builds: Builds | None = None, build_id: str | None = None) -> Engine:
        builds = builds or open_builds(settings)
        build_id = build_id or builds.current_id()
        if build_id is None:
            raise NoBuildError("no completed build to serve; run `hfmrs build` first")
        manifest = builds.manifest(build_id)
        store = builds.open(build_id)
        store.attach_cards(HitCards.open(builds.artifact_dir(build_id) / CARDS_DIR))
        ids = load_id_index(builds, build_id, store)
        log.info("serving build %s (%d models)", build_id, len(ids))
        return cls(store, ids, manifest, settings)

    def close(self) -> None:
        self.store.close()

    # -- lookups -----------------------------------------------------------------------------------
    @property
    def methods(self) -> list[str]:
        return list(self.recommenders)

    @property
    def default_method(self) -> str:
        wanted = self.settings.default_method
        return wanted if wanted in self.recommenders else self.methods[0]

    @functools.cached_property
    def known_facts(self) -> dict[str, int]:
        """How many models of the build have a known size and likes (the manifest's counts; builds made
        before it kept them are counted once, here)."""
        counted = self.manifest.get("coverage")
        if counted is None:
            rows = [p.payload for p in self.store.scroll(fields=["likes", "params_billions"])]
            counted = {
                "size": sum(r.get("params_billions") is not None for r in rows),
                "likes": sum(r.get("likes") is not None for r in rows),
            }
        return {"models": len(self.ids), **counted}

    def resolve(self, model_id: str) -> str:
        if len(model_id) > MAX_ID_LENGTH:
            raise ValueError(f"model id is longer than {MAX_ID_LENGTH} characters")
        return self.ids.resolve(model_id)

    def info(self, model_id: str) -> dict[str, Any]:
        canonical = self.resolve(model_id)
        points = self.store.retrieve([canonical])
        if not points:  # the id index and the store disagree: treat as unknown, never crash
            raise UnknownModelError(model_id, lambda: self.ids.suggest(model_id))
        return points[0].payload

    def autocomplete(self, prefix: str, limit: int = 10) -> list[ModelSummary]:
        if not 1 <= limit <= K_MAX:
            raise ValueError(f"limit must be from 1 to {K_MAX}, got {limit}")
        return [ModelSummary(m, self.ids.downloads_of(m)) for m in self.ids.prefix(prefix, limit)]

    def method_infos(self) -> list[MethodInfo]:
        return [MethodInfo(n, r.description, n == self.default_method) for n, r in self.recommenders.items()]

    # -- recommendations ---------------------------------------------------------------------------
    def similar(
        self,
        model_id: str,
        k: int = 10,
        method: str | None = None,
        sort: str = "score",
        filters: Filters | None = None,
        diversity: float | None = None,
        per_author: int | None = None,
        relation: str = "all",
        collapse: bool = True,
    ) -> Similar:
        """Up to ``k`` models like ``model_id``.

        ``relation`` keeps the query's ``family`` (its lineage and release), the ``alternatives`` (other
        models for the same job) or ``all`` of them, best first.  ``collapse`` groups quantized, format
        and test copies under the model they copy (one result, the copies in its ``variants``).
        ``diversity`` is the MMR λ (1 = the method's ranking, lower = more varied; None = off) and
        ``per_author`` caps results per author.  All of them work on an over-fetched candidate list,
        which also lets the deterministic tie-break, not Qdrant's order, decide ties at the k-th score.
        With MMR on, ``sort="score"`` keeps the MMR order; the scores shown are still the method's."""
        method = method or self.default_method
        validate(k, sort, self.methods, method)
        validate_diversity(diversity, per_author)
        if relation not in RELATIONS:
            raise ValueError(f"unknown relation {relation!r}; choose one of: {', '.join(RELATIONS)}")
        canonical = self.resolve(model_id)
        recommender = self.recommenders[method]
        points = self.store.retrieve([canonical], with_vectors=recommender.needs_vectors)
        if not points:
            raise UnknownModelError(model_id, lambda: self.ids.suggest(model_id))
        query = points[0]
        excluded = (filters or Filters()).with_exclude(canonical)
        hits = self._fetch(lambda limit: recommender.similar(query, limit, excluded), k)
        ranked = [h for h in hits if h.model_id != canonical]  # never the query itself
        groups = self._groups(query.payload, ranked, collapse, relation)
        if relation == "all" and recommender.alternatives_share:
            relation_of = RelationTo(query.payload)
            # A copy standing for its group is neither promoted nor dropped (the copies' cap placed it).
            relations = ["copy" if copy_group(query.payload, h.payload) else relation_of(h.payload) for h, _ in groups]
            # Always the same first page, whatever k: a longer list starts as the short one.
            order_ = make_room_for_alternatives(relations, ALTERNATIVES_PAGE, recommender.alternatives_share)
            groups = [groups[i] for i in order_]
        variants = {h.model_id: copies for h, copies in groups}
        heads = [h for h, _ in groups]
        if diversity is None and per_author is None:
            # In score order already, but for the places made for alternatives and the copies put last.
            ordered = heads[:k] if sort == "score" else order(heads[:k], sort)
        else:
            vectors: dict[str, Any] = {}
            if diversity is not None:
                points = self.store.retrieve([h.model_id for h in heads], with_vectors=[TEXT])
                vectors = {p.id: p.vectors.get(TEXT) for p in points}
            picked = diversify(heads, k, diversity, per_author, vectors)
            ordered = picked if sort == "score" and diversity is not None else order(picked, sort)
        explain, relation_to = Explainer(query.payload), RelationTo(query.payload)
        matches = self._matches(ordered, ranked, recommender.bounded_score)
        results = [
            self._recommendation(h, m, explain, relation_to, variants[h.model_id])
            for h, m in zip(ordered, matches, strict=True)
        ]
        unknown, notes = self.coverage(filters, sort, results, exclude=(canonical,))
        return Similar(canonical, method, results, unknown, notes)

    def _fetch(self, run: Any, k: int) -> list[Hit]:
        """A method's hits in score order, deep enough that neither k nor a tie at Qdrant's cut changes
        which models come first."""
        floor = max(k, FETCH_FLOOR) * self.settings.diversity_pool
        return fetch_past_ties(run, k, floor, max(MAX_FETCH, floor))

    @staticmethod
    def _matches(shown: Sequence[Hit], ranked: Sequence[Hit], bounded: bool) -> list[int]:
        return match_percents([h.score for h in shown], ranked[0].score if ranked else 0.0, bounded)

    @staticmethod
    def _groups(query: dict[str, Any], ranked: list[Hit], collapse: bool, relation: str) -> list[tuple[Hit, list[str]]]:
        """Ranked hits as (hit, copies grouped under it), copies collapsed, one relation kept."""
        if collapse:
            payloads = [h.payload for h in ranked]
            groups = [(ranked[i], copies) for i, copies in collapse_copies(query, payloads, MAX_SHOWN_COPIES)]
        else:
            groups = [(h, []) for h in ranked]
        if relation == "all":
            return groups
        wanted, relation_to = ("family" if relation == "family" else "alternative"), RelationTo(query)
        return [(h, copies) for h, copies in groups if relation_to(h.payload) == wanted]

    def search(
        self,
        text: str,
        vector: Sequence[float],
        k: int = 10,
        method: str | None = None,
        sort: str = "score",
        filters: Filters | None = None,
        understand: bool = True,
        ignore: Sequence[str] = (),
        collapse: bool = True,
    ) -> SearchResult:
        """Models that fit a free-text need (``vector`` is its embedding, from the embedder).

        The need is read for task, purpose, language, size, licence and format (:mod:`hfmrs.need`); what
        was understood comes back in ``understood``, and ``ignore`` drops parts of it (the UI's removable
        chips: ``tasks``, ``languages``, ``size`` or a filter name).  Explicit ``filters`` win over
        anything inferred on the same subject.  ``method``: ``fused`` (default), ``cosine`` or ``bm25``."""
        method = method or DEFAULT_SEARCH_METHOD
        validate(k, sort, list(SEARCH_METHODS), method)
        if not text.strip():
            raise ValueError("the search text is blank")
        if len(text) > MAX_QUERY_LENGTH:
            raise ValueError(f"the search text is longer than {MAX_QUERY_LENGTH} characters")
        unknown = sorted(set(ignore) - set(NEED_KEYS) - {f.name for f in public_fields()})
        if unknown:
            raise ValueError(f"cannot ignore {unknown[0]!r}; choose among: {', '.join(NEED_KEYS)} or a filter name")
        explicit = filters or Filters()
        need = understand_need(text).without(ignore).under(explicit) if understand else Understood()
        applied = explicit.replace(**need.filters) if method == "fused" else explicit
        if method == "fused":
            hits = self._fetch(lambda limit: self.need_search.search(text, vector, limit, need, applied), k)
        elif method == "cosine":
            hits = self._fetch(lambda limit: self.store.search(TEXT, list(vector), limit, applied), k)
        else:
            lexical = bm25_query(text)
            hits = [] if lexical is None else self._fetch(lambda n: self.store.search(BM25, lexical, n, applied), k)
        groups = self._groups({}, hits, collapse, "all")
        heads = order([h for h, _ in groups][:k], sort)
        variants = {h.model_id: copies for h, copies in groups}
        explain = NeedExplainer(need) if method == "fused" else None
        matches = self._matches(heads, hits, method == "cosine")
        results = [
            self._recommendation(h, m, explain, None, variants[h.model_id]) for h, m in zip(heads, matches, strict=True)
        ]
        unknown_size, notes = self.coverage(applied, sort, results)
        understood = need.as_dict() if method == "fused" else {}
        return SearchResult(text, method, results, unknown_size, notes, understood)

    def search_vector(
        self, text: str, vector: list[float], k: int = 10, sort: str = "score", filters: Filters | None = None
    ) -> SearchResult:
        """The plain dense search (``search(..., method="cosine")``), kept for callers of before."""
        return self.search(text, vector, k=k, method="cosine", sort=sort, filters=filters, understand=False)

    def coverage(
        self, filters: Filters | None, sort: str, results: Sequence[Recommendation], exclude: Sequence[str] = ()
    ) -> tuple[int | None, list[str]]:
        """How many models a size filter left out for an unknown size, and notes on facts the list lacks."""
        notes: list[str] = []
        unknown = None
        if filters is not None and filters.sized:
            unsized = filters.only_unknown_size().with_exclude(*exclude)
            unknown = self.store.count(unsized)
            if unknown:
                notes.append(f"{unknown:,} {_plural(unknown, 'model')} of unknown size left out by the size filter")
        if sort in PARTIAL_SORTS and results:
            name, what, who = PARTIAL_SORTS[sort]
            have = sum(1 for r in results if getattr(r, name) is not None)
            if have == 0:
                notes.append(f"none of these results has {what} (known for {who}): kept in score order")
            elif have < len(results):
                notes.append(
                    f"{have} of {len(results)} results have {what} (known for {who}); the rest follow in score order"
                )
        return unknown, notes

    def _recommendation(
        self,
        hit: Hit,
        match: int,
        explain: Explainer | None,
        relation_to: RelationTo | None = None,
        variants: list[str] | None = None,
    ) -> Recommendation:
        p = hit.payload
        return Recommendation(
            id=hit.model_id,
            score=round(hit.score, 6),
            match=match,
            downloads=p.get("downloads") or 0,
            likes=p.get("likes"),
            pipeline_tag=p.get("pipeline_tag"),
            library=p.get("library"),
            last_modified=p.get("last_modified"),
            why=explain(p) if explain is not None else [],
            license=p.get("license"),
            params_billions=p.get("params_billions"),
            params_source=p.get("params_source"),
            weight_format=p.get("weight_format"),
            leaderboard_average=p.get("leaderboard_average"),
            relation=relation_to(p) if relation_to is not None else None,
            variants=variants or [],
        )


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def load_id_index(builds: Builds, build_id: str, store: ModelStore) -> IdIndex:
    """The build's memory-mapped id index when this machine has it, else one made from the payloads."""
    path = builds.artifact_dir(build_id) / ID_INDEX_DIR
    if (path / "ids.npy").exists():
        return IdIndex.load(path)
    rows = [p.payload for p in store.scroll(fields=["id", "aliases", "downloads"])]
    return IdIndex({r["id"]: r.get("aliases") or [] for r in rows}, {r["id"]: r.get("downloads") or 0 for r in rows})
