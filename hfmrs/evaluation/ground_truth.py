"""The evaluation's three query sets and what counts as relevant for each.

1. **lineage** (the main set; ground truth from real model lineage).  Lineage edges (child -> parent)
   come from the catalog's ``base_model:*`` tags and the vendored lineage files in ``data/lineage``
   (:func:`hfmrs.lineage.lineage_edges`), split once by :func:`hfmrs.lineage.split_lineage`
   (seeded hash per edge, 30 % held out).  The evaluation builds from the catalog with the held-out
   edges stripped (:func:`hfmrs.lineage.strip_holdout`), so no soup, token set, BM25 vector or GNN
   graph sees them.  Relevant sets come from the **test edges only**:

   * a query is a catalog model that is an endpoint of at least one test edge;
   * its relevant models are its held-out parents (test edges query -> parent), its held-out
     children (test edges child -> query), and its siblings: models that share a held-out parent
     with it (test edges sibling -> p and query -> p).

   All relevant models have gain 1.

2. **family** (lineage-free).  Two models are of one family when they have the same pipeline tag,
   share an architecture class (``architectures``; the ``model_type`` where a model lists none) and
   share at least one training dataset.  Names play no part and lineage is not read.  Queries are
   models with at least one family member, a seeded sample when there are more than asked for.
   Gain 1.

3. **text** (free-text search).  One query per pipeline type of the Hub (``data/hf-pipeline-types.json``,
   the type's name, e.g. "automatic speech recognition") and per sub-task (humanised: "named entity
   recognition", "qa" spelled out); relevant = the catalog models whose ``pipeline_tag`` is that
   type (for a sub-task: its type, or types when several list it).  Graded: gain =
   (1 + log(1 + downloads)) / (1 + max over the catalog), so more downloaded models are worth more
   and none is worth 0.  Queries whose types have no model in the catalog are left out.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hfmrs.catalog import Catalog, ModelRecord
from hfmrs.lineage import LineageSplit

log = logging.getLogger(__name__)

Relevant = dict[str, dict[str, float]]  # query id -> {relevant model id -> gain}


@dataclass
class QuerySet:
    """Queries (query id -> the input a recommender gets: a model id or a text) and relevance."""

    name: str
    queries: dict[str, str]
    relevant: Relevant
    description: str = ""
    stats: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.queries)


def _stats(relevant: Relevant) -> dict[str, float]:
    sizes = [len(r) for r in relevant.values()]
    if not sizes:
        return {"queries": 0}
    return {
        "queries": len(sizes),
        "relevant_mean": round(float(np.mean(sizes)), 2),
        "relevant_median": float(np.median(sizes)),
        "relevant_max": int(max(sizes)),
    }


def lineage_ground_truth(split: LineageSplit) -> QuerySet:
    """Queries and relevant sets from the test edges only (see the module docstring)."""
    parents: dict[str, set[str]] = defaultdict(set)
    children: dict[str, set[str]] = defaultdict(set)
    for edge in split.test:
        parents[edge.child].add(edge.parent)
        children[edge.parent].add(edge.child)
    relevant: Relevant = {}
    for query in sorted(set(parents) | set(children)):
        related = set(parents[query]) | set(children[query])
        for parent in parents[query]:
            related |= children[parent]  # siblings: other held-out children of a held-out parent
        related.discard(query)
        if related:
            relevant[query] = dict.fromkeys(sorted(related), 1.0)
    return QuerySet(
        "lineage",
        {q: q for q in relevant},
        relevant,
        "held-out lineage: parents, children and siblings over the test edges",
        _stats(relevant),
    )


def architecture_classes(record: ModelRecord) -> set[str]:
    """The model's architecture classes, or its model type when it lists none (2024-only models)."""
    if record.architectures:
        return set(record.architectures)
    return {f"type:{record.model_type}"} if record.model_type else set()


def family_ground_truth(catalog: Catalog, max_queries: int = 1000, seed: int = 0) -> QuerySet:
    """Same task + shared architecture class + shared dataset (see the module docstring)."""
    index: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    keys: dict[str, list[tuple[str, str, str]]] = {}
    for record in catalog:
        if not record.pipeline_tag or not record.datasets:
            continue
        own = [(record.pipeline_tag, a, d) for a in architecture_classes(record) for d in record.datasets]
        if own:
            keys[record.id] = own
            for key in own:
                index[key].add(record.id)
    eligible = sorted(m for m, own in keys.items() if any(len(index[key]) > 1 for key in own))
    if len(eligible) > max_queries:
        picks = np.random.default_rng(seed).choice(len(eligible), size=max_queries, replace=False)
        eligible = sorted(eligible[i] for i in picks)
    relevant: Relevant = {}
    for query in eligible:
        members = set().union(*(index[key] for key in keys[query])) - {query}
        relevant[query] = dict.fromkeys(sorted(members), 1.0)
    return QuerySet(
        "family",
        {q: q for q in relevant},
        relevant,
        "same task + shared architecture + shared dataset (no lineage, no names)",
        _stats(relevant),
    )


def humanise(slug: str) -> str:
    """``extractive-qa`` -> ``extractive question answering``."""
    words = slug.replace("_", "-").split("-")
    return " ".join("question answering" if w == "qa" else w for w in words if w)


def text_ground_truth(pipeline_types: Path, catalog: Catalog) -> QuerySet:
    """One text query per pipeline type and sub-task, relevant = models of that type (graded)."""
    types = json.loads(pipeline_types.read_text())
    by_task: dict[str, list[ModelRecord]] = defaultdict(list)
    for record in catalog:
        if record.pipeline_tag:
            by_task[record.pipeline_tag].append(record)
    top = max((math.log1p(r.downloads) for r in catalog), default=0.0)
    tasks_of: dict[str, set[str]] = defaultdict(set)  # query text -> pipeline types it stands for
    for task, spec in types.items():
        tasks_of[str(spec.get("name") or humanise(task)).lower().replace("-", " ")].add(task)
        for subtask in spec.get("subtasks") or []:
            tasks_of[humanise(subtask)].add(task)
    queries: dict[str, str] = {}
    relevant: Relevant = {}
    for text, tasks in sorted(tasks_of.items()):
        members = [r for t in sorted(tasks) for r in by_task.get(t, [])]
        if not members:
            continue
        queries[text] = text
        relevant[text] = {r.id: (1.0 + math.log1p(r.downloads)) / (1.0 + top) for r in members}
    log.info("text queries: %d of %d have models in the catalog", len(queries), len(tasks_of))
    return QuerySet("text", queries, relevant, "Hub pipeline types and sub-tasks as text queries", _stats(relevant))


def held_out_ids(split: LineageSplit) -> Mapping[str, set[str]]:
    """child -> its held-out parents (for checks that nothing of them leaked into a build)."""
    held: dict[str, set[str]] = defaultdict(set)
    for child, parent in split.test_pairs:
        held[child].add(parent)
    return held
