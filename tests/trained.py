"""Helpers for tests of trained methods: tiny training settings and a trained small-catalog build."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from hfmrs.embedding import KeywordEncoder
from hfmrs.pipeline import BuildResult, build
from hfmrs.settings import Settings
from hfmrs.training import make_trainer
from tests.conftest import KEYWORDS, write_snapshots

# Small enough to train in a few seconds on two shared cores; big enough to exercise every step.
TINY = {
    "kmeans_k_min": 2,
    "kmeans_k_max": 6,
    "kmeans_k_step": 1,
    "gnn_epochs": 25,
    "gnn_hidden_dim": 16,
    "gnn_knn": 3,
    "hybrid_tune_queries": 20,
}


def tiny_settings(root: Path, **overrides) -> Settings:
    snapshots = root / "snapshots"
    if not snapshots.exists():
        write_snapshots(snapshots)
    return Settings(
        home=root / "home",
        snapshot_dir=snapshots,
        vector_cache=root / "no-bundled-vectors",
        lineage_dir=root / "no-lineage-files",  # lineage from the catalog's tags only: fast and exact
        _env_file=None,
        **{**TINY, **overrides},
    )


def trained_build(settings: Settings, split=None, force: bool = False) -> BuildResult:
    return build(
        settings,
        encoder=KeywordEncoder(KEYWORDS),
        trainer=make_trainer(settings, split, show_progress=False),
        force=force,
        show_progress=False,
    )


@functools.cache
def shared_trained_settings() -> Settings:
    """One trained build of the small catalog shared by every test that only reads it (training takes
    seconds, and the contract, diversity and training tests all need one)."""
    root = Path(tempfile.mkdtemp(prefix="hfmrs-trained-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    settings = tiny_settings(root)
    trained_build(settings)
    return settings
