"""Builds: skipped when inputs are unchanged, incremental embedding, atomic switch, failure isolation."""

import pytest

from hfmrs import pipeline
from hfmrs.engine import Engine
from hfmrs.pipeline import build
from hfmrs.store.builds import EdgeBuilds, NoBuildError
from tests.conftest import SNAPSHOT_2024, row24, write_snapshots


def test_no_build_yet(settings):
    with pytest.raises(NoBuildError):
        Engine.open(settings)


def test_rebuild_only_when_inputs_change(settings, encoder):
    first = build(settings, encoder=encoder, show_progress=False)
    assert not first.skipped and first.models == 15 and first.embedded == encoder.calls > 0
    calls = encoder.calls
    second = build(settings, encoder=encoder, show_progress=False)
    assert second.skipped and second.build_id == first.build_id
    assert encoder.calls == calls  # nothing embedded, nothing written

    # one new model in the newest snapshot: a new build that embeds only the new soup
    rows = [*SNAPSHOT_2024, row24("acme/new-bert", ["bert", "fill-mask", "transformers"], "fill-mask", 7)]
    write_snapshots(settings.snapshot_dir, rows24=rows)
    third = build(settings, encoder=encoder, show_progress=False)
    assert not third.skipped and third.build_id != first.build_id
    assert third.models == 16
    assert third.embedded == 1 and encoder.calls == calls + 1
    assert EdgeBuilds(settings.home).current_id() == third.build_id

    forced = build(settings, encoder=encoder, force=True, show_progress=False)
    assert not forced.skipped and forced.embedded == 0  # every vector from the cache


def test_size_files_are_build_inputs(settings, encoder, tmp_path):
    import shutil

    sizes = tmp_path / "sizes"
    shutil.copytree(settings.sizes_dir, sizes)
    settings = settings.model_copy(update={"sizes_dir": sizes})
    first = build(settings, encoder=encoder, show_progress=False)
    facts = EdgeBuilds(settings.home).manifest(first.build_id)["catalog_facts"]
    assert facts["sizes"]["models"] == 15 and facts["sizes"]["by_source"]["listed"] >= 1
    assert build(settings, encoder=encoder, show_progress=False).skipped
    table = sizes / "family-sizes.csv"  # a size rule changes: the payloads change
    table.write_text(table.read_text().replace("vit,base,86,", "vit,base,87,"))
    again = build(settings, encoder=encoder, show_progress=False)
    assert not again.skipped and again.embedded == 0  # soups are unchanged: every vector from the cache
    engine = Engine.open(settings)
    try:
        assert engine.info("vision/vit-base")["params"] == 87_000_000
    finally:
        engine.close()


def test_interrupted_build_leaves_previous_build_serving(settings, encoder, monkeypatch):
    first = build(settings, encoder=encoder, show_progress=False)
    write_snapshots(settings.snapshot_dir, rows24=SNAPSHOT_2024[:-1])  # inputs change

    calls = {"n": 0}
    real_upsert = pipeline.write_points

    def upsert_then_die(store, *args, **kwargs):
        calls["n"] += 1
        real_upsert(store, *args, **kwargs)
        raise KeyboardInterrupt  # Ctrl-C half-way through the build

    monkeypatch.setattr(pipeline, "write_points", upsert_then_die)
    with pytest.raises(KeyboardInterrupt):
        build(settings, encoder=encoder, show_progress=False)
    assert calls["n"] == 1

    builds = EdgeBuilds(settings.home)
    assert builds.current_id() == first.build_id
    assert [p.name for p in (settings.home / "builds").iterdir()] == [first.build_id]  # the half build is gone
    engine = Engine.open(settings)
    try:
        assert engine.build_id == first.build_id
        assert engine.similar("gpt2", k=3).results
    finally:
        engine.close()


def test_old_builds_are_pruned(settings, encoder):
    ids = [build(settings, encoder=encoder, force=True, show_progress=False).build_id for _ in range(3)]
    remaining = sorted(p.name for p in (settings.home / "builds").iterdir())
    assert ids[-1] in remaining and len(remaining) == settings.keep_builds


def _cosine_hits(settings, model_id: str) -> list[tuple[str, float]]:
    engine = Engine.open(settings)
    try:  # k=3: past the third, the test encoder's scores are all 0.0 and Qdrant's pick among ties is free
        return [(r.id, r.score) for r in engine.similar(model_id, k=3, method="cosine").results]
    finally:
        engine.close()


def test_quantizing_text_is_a_new_build_with_the_same_answers(settings, encoder):
    plain = build(settings, encoder=encoder, show_progress=False)
    before = _cosine_hits(settings, "bert-base-uncased")
    assert all(score > 0 for _, score in before)
    quantized_settings = settings.model_copy(update={"text_quantization": "int8"})
    quantized = build(quantized_settings, encoder=encoder, show_progress=False)
    assert not quantized.skipped and quantized.build_id != plain.build_id and quantized.embedded == 0
    builds = EdgeBuilds(settings.home)
    assert builds.manifest(quantized.build_id)["text_quantization"] == "int8"
    assert builds.manifest(plain.build_id)["text_quantization"] == "none"
    assert _cosine_hits(quantized_settings, "bert-base-uncased") == before
    assert build(quantized_settings, encoder=encoder, show_progress=False).skipped


def test_a_build_the_disk_cannot_hold_is_refused_before_writing(settings, encoder, monkeypatch):
    import shutil
    from collections import namedtuple

    from hfmrs.store.builds import NotEnoughSpaceError

    first = build(settings, encoder=encoder, show_progress=False)
    before = sorted(p.name for p in (settings.home / "builds").iterdir())
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 50_000, 50_000))
    with pytest.raises(NotEnoughSpaceError, match=r"a build of 15 models needs about 64.2 MB, 50 KB are free"):
        build(settings, encoder=encoder, force=True, show_progress=False)
    assert sorted(p.name for p in (settings.home / "builds").iterdir()) == before  # nothing left behind
    assert (settings.home / "CURRENT").read_text().strip() == first.build_id


def test_a_build_on_a_nearly_full_disk_exits_with_the_cause_and_leaves_nothing(tmp_path, snapshot_dir):
    """A real small disk (a 16 MB tmpfs): the build says why and exits 1; it used to die of SIGBUS (exit
    135) in a memory-mapped write and leave its partial directory behind."""
    import os
    import subprocess
    import sys

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()[:100]}")
    try:
        env = {**os.environ, "HFMRS_HOME": str(disk / "home"), "HFMRS_SNAPSHOT_DIR": str(snapshot_dir)}
        run = subprocess.run(
            [sys.executable, "-m", "services.cli", "build", "--no-train"], env=env, capture_output=True, text=True
        )
        assert run.returncode == 1, run.stderr[-500:]
        assert "error: not enough free space in" in run.stderr and "hint: free some space" in run.stderr
        assert not (disk / "home" / "builds").exists() or not any((disk / "home" / "builds").iterdir())
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
