"""The team's practitioner-judged set: for popular query models, the models a practitioner would weigh.

``data/eval/judged/*.txt`` (one file per group of task families), written from knowledge of the field
before looking at HFMRS's output::

    query: meta-llama/Llama-3.1-8B-Instruct | chat
    2: meta-llama/Llama-3.1-8B, meta-llama/Llama-3.2-3B-Instruct, ...      # family: the query's lineage
    1: Qwen/Qwen2.5-7B-Instruct, mistralai/Mistral-7B-Instruct-v0.3, ...   # alternatives for the same job

Grades are gains: 2 for family (base, child, sibling, size variant, copy), 1 for an alternative.  The
queries split once into a **tune** half (weights and priors are tuned on it) and a **report** half
(the README's numbers): a seeded hash of the query id, stratified by task family so both halves cover
every family.  Besides the graded set, each half yields a per-relation view (family only, alternatives
only, gain 1) so a change that helps one and hurts the other shows.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hfmrs.catalog import Catalog
from hfmrs.engine import Engine
from hfmrs.evaluation.evaluator import Ranked
from hfmrs.evaluation.ground_truth import QuerySet, _stats

log = logging.getLogger(__name__)

SPLIT_SEED = "hfmrs-judged-v1"
HALVES = ("tune", "report")
FAMILY_GRADE, ALTERNATIVE_GRADE = 2, 1


@dataclass
class JudgedQuery:
    query: str  # canonical catalog id
    task_family: str
    judged: dict[str, int] = field(default_factory=dict)  # canonical id -> grade
    source: str = ""
    half: str = ""


def _rank(query: str, seed: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{query}".encode()).digest()[:8], "big")


def assign_halves(queries: list[JudgedQuery], seed: str = SPLIT_SEED) -> None:
    """Within each task family, queries in seeded-hash order alternate tune, report, tune, ...; a family's
    odd one out goes by its hash, so the split is stable when queries are added elsewhere."""
    by_family: dict[str, list[JudgedQuery]] = defaultdict(list)
    for q in queries:
        by_family[q.task_family].append(q)
    for members in by_family.values():
        members.sort(key=lambda q: _rank(q.query, seed))
        for i, q in enumerate(members):
            q.half = HALVES[i % 2] if i < len(members) - len(members) % 2 else HALVES[_rank(q.query, seed) % 2]


def parse(lines: Iterable[str], source: str = "") -> Iterator[tuple[str, str, dict[str, int]]]:
    """(query id, task family, {judged id: grade}) blocks of one file, ids as written."""
    current: tuple[str, str, dict[str, int]] | None = None
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("query:"):
            if current is not None:
                yield current
            query, _, family = line[len("query:") :].partition("|")
            current = (query.strip(), family.strip() or "other", {})
            continue
        grade, _, rest = line.partition(":")
        if current is None or grade.strip() not in ("1", "2"):
            raise ValueError(f"{source}:{number}: expected 'query: <id> | <family>' or '<grade>: <ids>'")
        for model_id in (x.strip() for x in rest.split(",")):
            if model_id:
                current[2][model_id] = max(current[2].get(model_id, 0), int(grade))
    if current is not None:
        yield current


def load_judged(directory: Path, catalog: Catalog) -> list[JudgedQuery]:
    """Every judged query of ``directory`` resolved against the catalog (ids it lacks are left out)."""
    queries: dict[str, JudgedQuery] = {}
    missing = 0
    for path in sorted(directory.glob("*.txt")) if directory.is_dir() else []:
        with path.open(encoding="utf-8") as handle:
            for query, family, judged in parse(handle, path.name):
                canonical = catalog.ids.find(query)
                if canonical is None:
                    missing += 1
                    continue
                resolved: dict[str, int] = {}
                for model_id, grade in judged.items():
                    found = catalog.ids.find(model_id)
                    if found is None:
                        missing += 1
                    elif found != canonical:
                        resolved[found] = max(resolved.get(found, 0), grade)
                queries[canonical] = JudgedQuery(canonical, family, resolved, path.name)
    if missing:
        log.info("judged set: %d ids not in this catalog were left out", missing)
    found = sorted(queries.values(), key=lambda q: q.query)
    assign_halves(found)
    return found


def query_sets(judged: list[JudgedQuery], half: str) -> list[QuerySet]:
    """The half's graded set and its two per-relation views."""
    chosen = [q for q in judged if q.half == half]
    graded = {q.query: {m: float(g) for m, g in q.judged.items()} for q in chosen}
    family = {q: {m: 1.0 for m, g in rel.items() if g == FAMILY_GRADE} for q, rel in graded.items()}
    alternatives = {q: {m: 1.0 for m, g in rel.items() if g == ALTERNATIVE_GRADE} for q, rel in graded.items()}
    families = defaultdict(int)
    for q in chosen:
        families[q.task_family] += 1
    described = (
        f"the team's practitioner-judged set, {half} half: {len(chosen)} popular query models over "
        f"{len(families)} task families, judged family (gain 2) or alternative (gain 1)"
    )
    sets = [QuerySet(f"judged-{half}", {q: q for q in graded}, graded, described, _stats(graded))]
    for name, relevant in (("family", family), ("alternatives", alternatives)):
        kept = {q: r for q, r in relevant.items() if r}
        sets.append(
            QuerySet(
                f"judged-{half}/{name}",
                {q: q for q in kept},
                kept,
                f"{described}; only the {name} count (gain 1)",
                _stats(kept),
            )
        )
    return sets


# -- evaluating a build on the judged set -------------------------------------------------------------------
JUDGED_K = (10, 100)  # what the owner's judged sets are read at: nDCG@10 and recall@100
NAIVE_RRF_K = 60
NAIVE_PRIOR = 0.5  # rank positions (near the top of one list) per tenfold downloads


def naive_fusion(engine: Engine, k: int) -> Callable[[str], Ranked]:
    """The naive fusion the issue measured: reciprocal-rank fusion of the bm25, cosine and jaccard top-100
    (uncollapsed), plus a small log-downloads prior."""
    methods = [m for m in ("bm25", "cosine", "jaccard") if m in engine.methods]

    def recommend(model_id: str) -> Ranked:
        scores: dict[str, float] = {}
        downloads: dict[str, int] = {}
        for method in methods:
            for rank, r in enumerate(engine.similar(model_id, k=100, method=method, collapse=False).results):
                scores[r.id] = scores.get(r.id, 0.0) + 1 / (NAIVE_RRF_K + rank)
                downloads[r.id] = r.downloads
        for model_id_, downloads_ in downloads.items():
            scores[model_id_] += NAIVE_PRIOR * math.log10(1 + max(downloads_, 0)) / NAIVE_RRF_K**2
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]

    return recommend


def judged_recommenders(
    engine: Engine, methods: Sequence[str], k: int, naive: bool = True
) -> dict[str, Callable[[str], Ranked]]:
    """Each engine method as users get it (copies collapsed, the default relation) and the naive fusion."""

    def method_of(name: str) -> Callable[[str], Ranked]:
        return lambda model_id: [(r.id, r.score) for r in engine.similar(model_id, k=k, method=name).results]

    out = {name: method_of(name) for name in methods}
    if naive:
        out["naive-fusion"] = naive_fusion(engine, k)
    return out
