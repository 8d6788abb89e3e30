"""Where the catalog comes from: the snapshot files a build reads, and the side files that add facts.

``open_catalog(settings)`` is the one way the build, the evaluation, the report and refresh read the
catalog: snapshots (bundled and live, minus ``HFMRS_SNAPSHOT_EXCLUDE``) merged into records, then
joined with the listed facts of ``HFMRS_SIZES_DIR`` (exact sizes, context length, leaderboard scores,
likes) and given a size estimate where none is listed (:mod:`hfmrs.sizes`), its purposes
(:mod:`hfmrs.purpose`), lineage family and copy flags (:mod:`hfmrs.relations`) and quality prior
(:mod:`hfmrs.quality`).  ``input_files(settings)`` names every file that changes the result, for the
build's input hash.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from pathlib import Path

from hfmrs.catalog import SNAPSHOT_SUFFIXES, Catalog, load_catalog_files, snapshot_files
from hfmrs.facts import LEADERBOARD_GLOB, LLMFIT_GLOB, ListedFacts, load_listed_facts
from hfmrs.lineage import declared_parents
from hfmrs.purpose import assign_purposes
from hfmrs.quality import quality
from hfmrs.relations import assign_families
from hfmrs.settings import Settings
from hfmrs.sizes import FAMILY_TABLE, FamilyTable, SizeReport, estimate_sizes

log = logging.getLogger(__name__)

# The bundled snapshot under NPDL-1.0 (no paid distribution or paid hosted service): HFMRS_SNAPSHOT_EXCLUDE
# takes this pattern to build without it (data/README.md).
NPDL_SNAPSHOTS = "hf-models-2026-06-*"

# Bump when what open_catalog adds to the snapshots changes (size rules, fact joins): builds hash it.
# 2: purposes, lineage families, copies, the quality prior; 3: native low precision is no copy; 4: formats
ENRICHMENT_VERSION = "4"


def excluded(path: Path, patterns: str) -> bool:
    return any(fnmatch.fnmatch(path.name, p.strip()) for p in patterns.split(",") if p.strip())


def snapshot_paths(settings: Settings, live: bool = True) -> list[Path]:
    """Snapshot files the catalog is built from, oldest first (bundled, then live ingest's unless not ``live``)."""
    more = [settings.live_snapshot_dir or settings.home / "snapshots"] if live else []
    files = snapshot_files(settings.snapshot_dir, *more)
    kept = [p for p in files if not excluded(p, settings.snapshot_exclude)]
    if len(kept) < len(files):
        log.info("left out by HFMRS_SNAPSHOT_EXCLUDE: %s", ", ".join(p.name for p in files if p not in kept))
    if not kept:
        patterns = ", ".join("*" + suffix for suffix in SNAPSHOT_SUFFIXES)
        raise FileNotFoundError(f"no snapshot files ({patterns}) in {settings.snapshot_dir}")
    return kept


def side_paths(settings: Settings) -> list[Path]:
    """The size files, the family size table and the lineage files the catalog's facts come from."""
    found: list[Path] = []
    if settings.sizes_dir is not None and settings.sizes_dir.is_dir():
        for pattern in (LLMFIT_GLOB, LEADERBOARD_GLOB, FAMILY_TABLE):
            found += sorted(settings.sizes_dir.glob(pattern))[-1:]
    if settings.lineage_dir is not None and settings.lineage_dir.is_dir():
        found += sorted(p for p in settings.lineage_dir.iterdir() if p.name.endswith((".csv", ".csv.gz")))
    return found


def input_files(settings: Settings) -> list[Path]:
    """Every file whose bytes change the catalog (hashed into a build's inputs)."""
    return [*snapshot_paths(settings), *side_paths(settings)]


@dataclass
class CatalogFacts:
    """What enrichment found, for the build manifest."""

    listed: int
    sizes: SizeReport
    dataset_purposes: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"listed_models": self.listed, "sizes": self.sizes.to_dict(), "dataset_purposes": self.dataset_purposes}


def open_catalog(settings: Settings, live: bool = True) -> Catalog:
    """The merged, enriched catalog (see the module docstring); ``live=False`` leaves live ingest's
    snapshots out (the evaluation and the report describe the bundled data)."""
    listed = load_listed_facts(settings.sizes_dir)
    known_types = {f.model_type for f in listed.values() if f.model_type}
    catalog = load_catalog_files(snapshot_paths(settings, live), known_types)
    catalog.facts = enrich(catalog, listed, settings.sizes_dir, settings.lineage_dir).to_dict()
    return catalog


def enrich(
    catalog: Catalog, listed: dict[str, ListedFacts], sizes_dir: Path | None, lineage_dir: Path | None
) -> CatalogFacts:
    """Join listed facts onto the records and estimate sizes (in place)."""
    joined = 0
    for record in catalog:
        facts = next((listed[i] for i in (record.id, *record.aliases) if i in listed), None)
        if facts is None:
            continue
        joined += 1
        record.context_length = record.context_length or facts.context_length
        record.leaderboard = record.leaderboard or facts.leaderboard
        record.model_type = record.model_type or facts.model_type
        if record.likes is None:  # the newest snapshot's likes win; listed ones are older
            record.likes = facts.likes
    table = FamilyTable.load(sizes_dir / FAMILY_TABLE if sizes_dir is not None else None)
    parents = declared_parents(catalog, lineage_dir)
    report = estimate_sizes(catalog, listed, parents, table)
    datasets = assign_purposes(catalog, parents)
    assign_families(catalog, parents)
    for record in catalog:
        record.quality = quality(record)
    return CatalogFacts(listed=joined, sizes=report, dataset_purposes=len(datasets))
