"""Several serving processes over one Edge home: slots, private shard copies, the copies' life cycle."""

from __future__ import annotations

import shutil
from collections import namedtuple

import pytest

from hfmrs.engine import Engine
from hfmrs.pipeline import build
from hfmrs.store.builds import EdgeBuilds, NotEnoughSpaceError
from hfmrs.store.replicas import (
    REPLICAS_DIR,
    NoFreeSlotError,
    ReplicaBuilds,
    claim_slot,
    serving_builds,
    tree_bytes,
)
from tests.conftest import SNAPSHOT_2024, row24, write_snapshots


def test_slots_are_claimed_lowest_first_and_freed_with_their_descriptor(tmp_path):
    first, second = claim_slot(tmp_path, 2), claim_slot(tmp_path, 2)
    assert (first[0], second[0]) == (0, 1)
    with pytest.raises(NoFreeSlotError, match="all 2 serving slots"):
        claim_slot(tmp_path, 2)
    ReplicaBuilds(tmp_path, 0, first[1]).release()  # as the kernel does when a worker dies
    again = claim_slot(tmp_path, 2)
    assert again[0] == 0
    ReplicaBuilds(tmp_path, 1, second[1]).release()
    ReplicaBuilds(tmp_path, 0, again[1]).release()


def test_one_worker_or_a_server_backend_serves_the_builds_themselves(settings):
    assert type(serving_builds(settings)) is EdgeBuilds
    two = settings.model_copy(update={"workers": 2})
    slots = [serving_builds(two), serving_builds(two)]
    assert [b.slot for b in slots] == [0, 1]  # type: ignore[attr-defined]
    for builds in slots:
        builds.release()  # type: ignore[attr-defined]


def test_two_slots_serve_one_build_at_once_and_answer_alike(settings, encoder):
    build_id = build(settings, encoder=encoder, show_progress=False).build_id
    slot0, slot1 = (ReplicaBuilds(settings.home, slot, *claim_slot(settings.home, 2)[1:]) for slot in (0, 1))
    copy = settings.home / REPLICAS_DIR / "1" / build_id / "shard"
    in_place, copied = Engine.open(settings, slot0), Engine.open(settings, slot1)  # no WAL lock conflict
    try:
        assert copy.is_dir() and in_place.store.path == settings.home / "builds" / build_id / "shard"
        # Qdrant's preallocated files are sparse: the copy keeps their holes (32 MB WAL files, mostly empty)
        source = settings.home / "builds" / build_id / "shard"
        apparent = sum(f.stat().st_size for f in copy.rglob("*") if f.is_file())
        assert tree_bytes(copy) <= 1.1 * tree_bytes(source) + 1_000_000 < apparent
        assert copied.store.path == copy
        assert in_place.similar("gpt2", k=3) == copied.similar("gpt2", k=3)
        assert in_place.similar("gpt2", k=3).results
    finally:
        in_place.close()
        copied.close()
        slot0.release()
        slot1.release()
    assert not (settings.home / REPLICAS_DIR / "1").exists()


def test_a_slot_keeps_the_copy_it_serves_until_the_next_switch(settings, encoder):
    slot = ReplicaBuilds(settings.home, 1)
    first = build(settings, encoder=encoder, show_progress=False).build_id
    slot.open(first).close()
    rows = [*SNAPSHOT_2024, row24("acme/brand-new-vit", ["vit", "image-classification"], "image-classification", 5)]
    write_snapshots(settings.snapshot_dir, rows24=rows)
    second = build(settings, encoder=encoder, show_progress=False).build_id
    slot.open(second).close()
    copies = settings.home / REPLICAS_DIR / "1"
    assert sorted(p.name for p in copies.iterdir()) == sorted([first, second])  # requests may still run on the first
    write_snapshots(settings.snapshot_dir, rows24=[*rows, row24("acme/other", ["bert"], "fill-mask", 3)])
    third = build(settings, encoder=encoder, show_progress=False).build_id
    slot.open(third).close()
    assert sorted(p.name for p in copies.iterdir()) == sorted([second, third])
    slot.release()


def test_a_copy_the_disk_cannot_hold_is_refused_and_leaves_nothing(settings, encoder, monkeypatch):
    build_id = build(settings, encoder=encoder, show_progress=False).build_id
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10**9, 10**9 - 1000, 1000))
    slot = ReplicaBuilds(settings.home, 1)
    with pytest.raises(NotEnoughSpaceError, match=f"worker 1's copy of build {build_id}: it needs"):
        slot.open(build_id)
    assert list((settings.home / REPLICAS_DIR / "1").iterdir()) == []
    slot.release()


def test_without_gnu_cp_the_copy_is_plain_and_still_serves(settings, encoder, monkeypatch):
    import subprocess

    build_id = build(settings, encoder=encoder, show_progress=False).build_id

    def no_cp(*args, **kwargs):
        raise FileNotFoundError("cp")

    monkeypatch.setattr(subprocess, "run", no_cp)
    slot = ReplicaBuilds(settings.home, 1)
    store = slot.open(build_id)
    try:
        assert store.count() > 0 and (settings.home / REPLICAS_DIR / "1" / build_id / "shard").is_dir()
    finally:
        store.close()
        slot.release()
