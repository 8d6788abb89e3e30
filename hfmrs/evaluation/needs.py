"""The team's need-description set: what practitioners type into a search box, with judged answers.

``data/eval/needs/`` holds answer groups (``groups.txt``) and needs (every other ``*.txt``), written from
knowledge of the field before looking at HFMRS's search output::

    group asr: openai/whisper-large-v3, openai/whisper-large-v3-turbo, nvidia/parakeet-tdt-0.6b-v2, ...
    need: speech to text for meeting recordings | asr
    answers: @asr

A need's answers are groups (``@name``, which may name other groups) and ids; every answer counts 1.  Ids
the catalog lacks are left out (the set outlives catalogs).  The needs split once into a **tune** half and a
**report** half the same way as the judged similar-model set (a seeded hash, stratified by task family).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfmrs.catalog import Catalog
from hfmrs.evaluation.ground_truth import QuerySet, _stats
from hfmrs.evaluation.judged import assign_halves

log = logging.getLogger(__name__)

GROUPS_FILE = "groups.txt"
SPLIT_SEED = "hfmrs-needs-v1"
NEEDS_K = (10, 100)  # what need search is read at: hit@10 and recall@100


@dataclass
class Need:
    query: str  # the text as a user types it
    task_family: str
    answers: set[str] = field(default_factory=set)  # canonical catalog ids
    source: str = ""
    half: str = ""


def _entries(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_groups(lines: Iterable[str], source: str = GROUPS_FILE) -> dict[str, list[str]]:
    """``group <name>: <entries>`` lines -> {name: entries as written (ids and @groups)}."""
    groups: dict[str, list[str]] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, sep, rest = line.partition(":")
        if not head.startswith("group ") or not sep:
            raise ValueError(f"{source}:{number}: expected 'group <name>: <ids>'")
        groups[head[len("group ") :].strip()] = _entries(rest)
    return groups


def parse_needs(lines: Iterable[str], source: str = "") -> Iterator[tuple[str, str, list[str]]]:
    """(need text, task family, answer entries as written) for each ``need:`` / ``answers:`` pair."""
    pending: tuple[str, str] | None = None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("need:"):
            if pending is not None:
                raise ValueError(f"{source}:{number}: the need before this one has no 'answers:' line")
            text, _, family = line[len("need:") :].rpartition("|")
            pending = (text.strip(), family.strip() or "other")
        elif line.startswith("answers:") and pending is not None:
            yield (*pending, _entries(line[len("answers:") :]))
            pending = None
        else:
            raise ValueError(f"{source}:{number}: expected 'need: <text> | <family>' then 'answers: <ids>'")
    if pending is not None:
        raise ValueError(f"{source}: the last need has no 'answers:' line")


def expand(entries: list[str], groups: dict[str, list[str]], seen: frozenset[str] = frozenset()) -> list[str]:
    """Entries with every ``@group`` replaced by its ids, recursively (a cycle or unknown group is an error)."""
    out: list[str] = []
    for entry in entries:
        if not entry.startswith("@"):
            out.append(entry)
            continue
        name = entry[1:]
        if name not in groups:
            raise ValueError(f"unknown answer group @{name}")
        if name in seen:
            raise ValueError(f"answer group @{name} includes itself")
        out += expand(groups[name], groups, seen | {name})
    return out


def load_needs(directory: Path, find: Callable[[str], str | None]) -> list[Need]:
    """Every need of ``directory`` with its answers resolved by ``find`` (a catalog's id look-up)."""
    if not directory.is_dir():
        return []
    groups_path = directory / GROUPS_FILE
    groups = parse_groups(groups_path.read_text(encoding="utf-8").splitlines()) if groups_path.exists() else {}
    needs: dict[str, Need] = {}
    missing: set[str] = set()
    for path in sorted(p for p in directory.glob("*.txt") if p.name != GROUPS_FILE):
        for text, family, entries in parse_needs(path.read_text(encoding="utf-8").splitlines(), path.name):
            answers = set()
            for model_id in expand(entries, groups):
                found = find(model_id)
                if found is None:
                    missing.add(model_id)
                else:
                    answers.add(found)
            if answers:
                needs[text] = Need(text, family, answers, path.name)
    if missing:
        log.info("need set: %d answer ids not in this catalog were left out", len(missing))
    found_needs = sorted(needs.values(), key=lambda n: n.query)
    assign_halves(found_needs, SPLIT_SEED)  # type: ignore[arg-type]  # same fields the judged split reads
    return found_needs


def load_catalog_needs(directory: Path, catalog: Catalog) -> list[Need]:
    return load_needs(directory, catalog.ids.find)


def query_set(needs: list[Need], half: str) -> QuerySet:
    """One half as a query set: query id = the text, every answer relevant with gain 1."""
    chosen = [n for n in needs if n.half == half]
    relevant = {n.query: {m: 1.0 for m in n.answers} for n in chosen}
    families = {n.task_family for n in chosen}
    described = (
        f"the team's need-description set, {half} half: {len(chosen)} needs as practitioners type them over "
        f"{len(families)} task families, each with its judged answers"
    )
    return QuerySet(f"needs-{half}", {n.query: n.query for n in chosen}, relevant, described, _stats(relevant))


# -- tuning the search scorer on the tune half ---------------------------------------------------------------
TUNE_STEPS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def objective(ranked: list[list[str]], needs: list[Need]) -> float:
    """Mean of hit@10 and recall@100 over the needs (what the owner reads the search at)."""
    hits = recalls = 0.0
    for ids, need in zip(ranked, needs, strict=True):
        hits += float(any(m in need.answers for m in ids[:10]))
        recalls += len(need.answers.intersection(ids[:100])) / len(need.answers)
    return (hits + recalls) / (2 * max(len(needs), 1))


def tune_search_weights(
    found: list[Any], needs: list[Need], weights: dict[str, float], features: tuple[str, ...], rounds: int = 3
) -> tuple[dict[str, float], float]:
    """Coordinate search over :data:`TUNE_STEPS` (signed as each weight's sign) on cached candidates
    (``found``: one :class:`hfmrs.search.Found` per need); the best weights and their objective."""
    import numpy as np

    def rank(w: dict[str, float]) -> list[list[str]]:
        vector = np.array([w.get(f, 0.0) for f in features])
        out = []
        for f in found:
            scores = f.features @ vector if len(f.ids) else np.zeros(0)
            out.append([f.ids[i] for i in np.argsort(-scores, kind="stable")[:100]])
        return out

    best = dict(weights)
    best_score = objective(rank(best), needs)
    for _ in range(rounds):
        improved = False
        for name in features:
            sign = -1.0 if best.get(name, 0.0) < 0 else 1.0
            for step in TUNE_STEPS:
                trial = {**best, name: sign * step}
                score = objective(rank(trial), needs)
                if score > best_score + 1e-9:
                    best, best_score, improved = trial, score, True
        if not improved:
            break
    return best, best_score
