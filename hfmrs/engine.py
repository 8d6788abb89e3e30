"""The engine: one serving build, every method, and what all frontends share.

CLI, API, UI and extension all go through :class:`Engine`: it resolves ids and aliases (with "did you
mean"), validates arguments, runs a method, orders results deterministically, and explains them.
Frontends only parse input and format output.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from hfmrs.explain import why
from hfmrs.ids import IdIndex, UnknownModelError
from hfmrs.recommenders import Recommender, make_recommenders
from hfmrs.settings import Settings
from hfmrs.store.base import Filters, Hit, ModelStore
from hfmrs.store.builds import Builds, NoBuildError, open_builds

log = logging.getLogger(__name__)

K_MIN, K_MAX = 1, 100
SORTS = ("score", "downloads-desc", "downloads-asc", "likes", "recent", "trending")
MAX_ID_LENGTH = 200
MAX_QUERY_LENGTH = 1000


@dataclass
class Recommendation:
    id: str
    score: float
    downloads: int
    likes: int | None
    pipeline_tag: str | None
    library: str | None
    last_modified: str | None
    why: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Similar:
    query: str  # canonical id of the query model
    method: str
    results: list[Recommendation]


def _score_key(hit: Hit) -> tuple[float, int, str]:
    # Scores are rounded so float noise between equal neighbours can't reorder them; ties go to the
    # more downloaded model, then to the id, so the same request always gives the same list.
    return (-round(hit.score, 6), -(hit.payload.get("downloads") or 0), hit.model_id)


def order(hits: Sequence[Hit], sort: str) -> list[Hit]:
    """Order a method's top-k by ``sort``; every order ends with the deterministic score tie-break."""
    by_score = sorted(hits, key=_score_key)
    if sort == "score":
        return by_score
    rank = {h.model_id: i for i, h in enumerate(by_score)}

    def num(h: Hit, name: str) -> float:
        value = h.payload.get(name)
        return float(value) if isinstance(value, (int, float)) else -math.inf

    keys = {
        "downloads-desc": lambda h: (-num(h, "downloads"), rank[h.model_id]),
        "downloads-asc": lambda h: (num(h, "downloads"), rank[h.model_id]),
        "likes": lambda h: (-num(h, "likes"), rank[h.model_id]),
        "recent": lambda h: (_neg_text(h.payload.get("last_modified")), rank[h.model_id]),
        "trending": lambda h: (-num(h, "download_velocity"), rank[h.model_id]),
    }
    return sorted(by_score, key=keys[sort])


def _neg_text(value: str | None) -> tuple[int, list[int]]:
    # Newest first: ISO timestamps compare as text; negate code points to sort descending.
    return (0, [-ord(c) for c in value]) if value else (1, [])


def validate(k: int, sort: str, methods: Sequence[str], method: str) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or not K_MIN <= k <= K_MAX:
        raise ValueError(f"k must be an integer from {K_MIN} to {K_MAX}, got {k!r}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose one of: {', '.join(SORTS)}")
    if method not in methods:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(methods)}")


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

    @classmethod
    def open(cls, settings: Settings, builds: Builds | None = None, build_id: str | None = None) -> Engine:
        builds = builds or open_builds(settings)
        build_id = build_id or builds.current_id()
        if build_id is None:
            raise NoBuildError("no completed build to serve; run `hfmrs build` first")
        manifest = builds.manifest(build_id)
        store = builds.open(build_id)
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

    def resolve(self, model_id: str) -> str:
        if len(model_id) > MAX_ID_LENGTH:
            raise ValueError(f"model id is longer than {MAX_ID_LENGTH} characters")
        return self.ids.resolve(model_id)

    def info(self, model_id: str) -> dict[str, Any]:
        canonical = self.resolve(model_id)
        points = self.store.retrieve([canonical])
        if not points:  # the id index and the store disagree: treat as unknown, never crash
            raise UnknownModelError(model_id, self.ids.suggest(model_id))
        return points[0].payload

    def autocomplete(self, prefix: str, limit: int = 10) -> list[dict[str, Any]]:
        if not 1 <= limit <= K_MAX:
            raise ValueError(f"limit must be from 1 to {K_MAX}, got {limit}")
        return [{"id": m, "downloads": self.ids.downloads.get(m, 0)} for m in self.ids.prefix(prefix, limit)]

    # -- recommendations ---------------------------------------------------------------------------
    def similar(
        self,
        model_id: str,
        k: int = 10,
        method: str | None = None,
        sort: str = "score",
        filters: Filters | None = None,
    ) -> Similar:
        method = method or self.default_method
        validate(k, sort, self.methods, method)
        canonical = self.resolve(model_id)
        recommender = self.recommenders[method]
        points = self.store.retrieve([canonical], with_vectors=recommender.needs_vectors)
        if not points:
            raise UnknownModelError(model_id, self.ids.suggest(model_id))
        query = points[0]
        hits = recommender.similar(query, k, (filters or Filters()).with_exclude(canonical))
        hits = [h for h in hits if h.model_id != canonical][:k]  # belt and braces: never the query itself
        return Similar(canonical, method, [self._recommendation(h, query.payload) for h in order(hits, sort)])

    def search_vector(
        self, vector: list[float], k: int = 10, sort: str = "score", filters: Filters | None = None
    ) -> list[Recommendation]:
        """Models nearest to a free-text query's embedding (the vector comes from the embedder)."""
        validate(k, sort, ["cosine"], "cosine")
        hits = self.store.search("text", vector, k, filters)
        return [self._recommendation(h, {}) for h in order(hits, sort)]

    def _recommendation(self, hit: Hit, query_payload: dict[str, Any]) -> Recommendation:
        p = hit.payload
        return Recommendation(
            id=hit.model_id,
            score=round(hit.score, 6),
            downloads=p.get("downloads") or 0,
            likes=p.get("likes"),
            pipeline_tag=p.get("pipeline_tag"),
            library=p.get("library"),
            last_modified=p.get("last_modified"),
            why=why(query_payload, p) if query_payload else [],
        )


def load_id_index(builds: Builds, build_id: str, store: ModelStore) -> IdIndex:
    """The build's id index file when this machine has it, else read from the store's payloads."""
    path = builds.artifact_dir(build_id) / "ids.json"
    if path.exists():
        rows = json.loads(path.read_text())
    else:
        rows = [p.payload for p in store.scroll(fields=["id", "aliases", "downloads"])]
    return IdIndex({r["id"]: r.get("aliases") or [] for r in rows}, {r["id"]: r.get("downloads") or 0 for r in rows})
