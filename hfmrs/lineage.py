"""Model lineage (child derived from parent) and the one fixed train/test split of it.

Lineage is both a training signal (GNN edges, features) and the evaluation's ground truth, never both
from the same edges: :func:`split_lineage` assigns each edge to ``train`` or ``test`` by a seeded hash
of the pair, so the split is the same in every process and every run.  :func:`strip_holdout` removes
the test edges from a catalog (its ``base_model:*`` tags and base models), which the evaluation
builds from, and the GNN trains on ``train`` edges only.
"""

from __future__ import annotations

import copy
import csv
import gzip
import hashlib
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hfmrs.catalog import Catalog

log = logging.getLogger(__name__)

SPLIT_SEED = "hfmrs-lineage-v1"
TEST_FRACTION = 0.3
RELATIONS = {"finetuned": "finetune", "quantized": "quantized", "merged": "merge", "adapter": "adapter"}


@dataclass(frozen=True)
class Edge:
    child: str  # canonical catalog ids
    parent: str
    relation: str
    source: str  # "tags", "card" or "derivation"


@dataclass(frozen=True)
class LineageSplit:
    train: tuple[Edge, ...]
    test: tuple[Edge, ...]

    @property
    def test_pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset((e.child, e.parent) for e in self.test)

    @property
    def key(self) -> str:
        """Names the split in build input hashes."""
        digest = hashlib.sha256(repr(sorted(self.test_pairs)).encode()).hexdigest()[:12]
        return f"lineage-holdout={SPLIT_SEED}:{TEST_FRACTION}:{digest}"


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as raw:
        yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))


def _find(directory: Path, stem: str) -> Path | None:
    for suffix in (".csv.gz", ".csv"):
        if (path := directory / f"{stem}{suffix}").exists():
            return path
    return None


def lineage_edges(catalog: Catalog, lineage_dir: Path | None) -> list[Edge]:
    """Every child->parent edge with both ends in the catalog, de-duplicated (first source wins:
    tags, then model cards, then the derivation graph)."""
    edges: dict[tuple[str, str], Edge] = {}

    def add(child: str, parent: str, relation: str, source: str) -> None:
        c, p = catalog.ids.find(child), catalog.ids.find(parent)
        if c and p and c != p and (c, p) not in edges:
            edges[(c, p)] = Edge(c, p, relation, source)

    for record in catalog:
        for base in record.base_models:
            add(record.id, base.id, base.relation, "tags")
    if lineage_dir is not None and lineage_dir.exists():
        if card := _find(lineage_dir, "card-base-models-2025-01"):
            for row in _rows(card):
                add(row.get("id", ""), row.get("base_model", ""), "finetune", "card")
        if derivation := _find(lineage_dir, "derivation-edges-2025-06"):
            for row in _rows(derivation):
                add(
                    row.get("target", ""),
                    row.get("source", ""),
                    RELATIONS.get(row.get("edge", ""), "finetune"),
                    "derivation",
                )
    return sorted(edges.values(), key=lambda e: (e.child, e.parent))


def _is_test(edge: Edge, seed: str, fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}|{edge.child}|{edge.parent}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_lineage(edges: Iterable[Edge], seed: str = SPLIT_SEED, fraction: float = TEST_FRACTION) -> LineageSplit:
    edges = list(edges)
    test = tuple(e for e in edges if _is_test(e, seed, fraction))
    train = tuple(e for e in edges if not _is_test(e, seed, fraction))
    log.info("lineage: %d edges, %d held out for evaluation", len(edges), len(test))
    return LineageSplit(train=train, test=test)


def strip_holdout(catalog: Catalog, split: LineageSplit) -> Catalog:
    """A copy of ``catalog`` without the held-out edges: neither the base model nor its tags remain,
    so no feature, soup, token set or explanation can see them."""
    held: dict[str, set[str]] = {}
    for child, parent in split.test_pairs:
        held.setdefault(child, set()).add(parent)
    records = []
    for record in catalog:
        parents = held.get(record.id)
        if parents:
            record = copy.deepcopy(record)
            names = set(parents)
            for parent in parents:  # the tag may name the parent by a legacy alias
                names.update(catalog.records[parent].aliases)
            record.base_models = [b for b in record.base_models if b.id not in names]
            record.tags = [
                t for t in record.tags if not (t.startswith("base_model:") and t.rsplit(":", 1)[-1] in names)
            ]
        records.append(record)
    return Catalog(records)


def declared_parents(catalog: Catalog, lineage_dir: Path | None) -> dict[str, list[str]]:
    """Each catalog model's parents as declared anywhere (tags, model cards, the derivation graph),
    including parents outside the catalog (a size can still be read from their id or a size file).
    Canonical child id -> parent ids, tags first."""
    parents: dict[str, list[str]] = {}

    def add(child: str, parent: str) -> None:
        canonical = catalog.ids.find(child)
        if canonical and parent and parent != canonical:
            found = parents.setdefault(canonical, [])
            if parent not in found:
                found.append(parent)

    for record in catalog:
        for base in record.base_models:
            add(record.id, base.id)
    if lineage_dir is not None and lineage_dir.exists():
        if card := _find(lineage_dir, "card-base-models-2025-01"):
            for row in _rows(card):
                add(row.get("id", ""), (row.get("base_model") or "").strip())
        if derivation := _find(lineage_dir, "derivation-edges-2025-06"):
            for row in _rows(derivation):
                add(row.get("target", ""), (row.get("source") or "").strip())
    return parents
