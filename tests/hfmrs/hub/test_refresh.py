"""Two live snapshots a month apart: download velocity, the trending sort, the memory filter, and a refresh
that embeds only the models that are new or whose metadata changed."""

from __future__ import annotations

import copy
from datetime import date

import pytest
import typer
from typer.testing import CliRunner

from hfmrs.engine import Engine
from hfmrs.features import soup, soup_hash
from hfmrs.filters import Filters, params_limit_for_memory
from hfmrs.hub.crawl import CrawlError, RetryPolicy
from hfmrs.hub.refresh import refresh
from hfmrs.settings import Settings
from hfmrs.sources import open_catalog
from hfmrs.store.builds import open_builds
from tests.fake_hub import FakeHub, Fault, bundled_hub_rows, running

DAY1, DAY2 = date(2025, 6, 1), date(2025, 7, 1)  # 30 days apart
FAST = RetryPolicy(max_retries=2, backoff_base=0.01, sleep=lambda seconds: None)


def refresh_from(settings: Settings, hub: FakeHub, encoder, today: date):
    return refresh(settings, encoder, limit=40, endpoint=hub.url, today=today, page_size=20, retry=FAST)


def test_refresh_embeds_only_new_or_changed_models_and_tracks_velocity(settings: Settings, encoder):
    rows = [copy.deepcopy(r) for r in bundled_hub_rows()[:40]]
    with running(FakeHub(rows)) as hub:
        first = refresh_from(settings, hub, encoder, DAY1)
        catalog = open_catalog(settings)
        soups = {soup_hash(soup(r)) for r in catalog}
        assert not first.build.skipped and first.build.models == len(catalog)
        assert first.build.embedded == encoder.calls == len(soups)

        # A month later: two models gain and lose users, one gets a new tag, a new model enters the top.
        gainer, loser, retagged = rows[5], rows[6], rows[7]
        gainer["downloads"] += 30 * 100_000
        loser["downloads"] -= 30 * 500
        retagged["tags"] = [*retagged["tags"], "reasoning"]
        newcomer = {**copy.deepcopy(rows[8]), "_id": "f" * 24, "id": "acme/brand-new-model"}
        newcomer["downloads"] = rows[0]["downloads"] + 1
        hub.rows.append(newcomer)
        calls_before = encoder.calls
        second = refresh_from(settings, hub, encoder, DAY2)

    assert second.crawl.snapshot.name == "hf-models-2025-07-01-live.jsonl.gz"
    assert second.build.embedded == 2 and encoder.calls - calls_before == 2  # the retagged and the new model
    assert open_builds(settings).current_id() == second.build.build_id != first.build.build_id

    catalog = open_catalog(settings)
    assert catalog.get(gainer["id"]).download_velocity == 100_000.0
    assert catalog.get(loser["id"]).download_velocity == -500.0
    assert catalog.get(rows[0]["id"]).download_velocity == 0.0  # in both live snapshots, unchanged
    assert catalog.get("acme/brand-new-model").download_velocity is None  # one snapshot only
    assert catalog.get(gainer["id"]).history == {
        "2025-06-01": {"downloads": gainer["downloads"] - 3_000_000, "likes": gainer["likes"]},
        "2025-07-01": {"downloads": gainer["downloads"], "likes": gainer["likes"]},
    }
    # rows[39] fell out of the top 40 but stays in the catalog with its last known numbers.
    assert catalog.get(rows[39]["id"]).snapshot == "2025-06-01"

    engine = Engine.open(settings)
    try:
        payload = engine.info(gainer["id"])
        assert payload["download_velocity"] == 100_000.0 and payload["history"]["2025-07-01"]["downloads"]
        assert payload["params_billions"] == round(gainer["safetensors"]["total"] / 1e9, 6)

        query = rows[1]["id"]
        trending = engine.similar(query, k=100, sort="trending", collapse=False).results
        velocities = [catalog.get(r.id).download_velocity for r in trending]
        known = [v for v in velocities if v is not None]
        assert trending[0].id == gainer["id"]
        assert known == sorted(known, reverse=True) and velocities[: len(known)] == known  # unknown ones last
        assert len(trending) == len(catalog) - 1

        limit = params_limit_for_memory(8, "fp16")
        fits = engine.similar(query, k=100, filters=Filters(max_params_billions=limit), collapse=False).results
        expected = {r.id for r in catalog if r.params_billions is not None and r.params_billions <= limit} - {query}
        assert expected and {r.id for r in fits} == expected
    finally:
        engine.close()


def test_refresh_without_changes_skips_and_a_failed_crawl_keeps_the_build(settings: Settings, encoder):
    rows = [copy.deepcopy(r) for r in bundled_hub_rows()[:30]]
    with running(FakeHub(rows)) as hub:
        first = refresh_from(settings, hub, encoder, DAY1)
        again = refresh_from(settings, hub, encoder, DAY1)  # same day, same data: same snapshot bytes
        assert again.build.skipped and again.build.embedded == 0
        assert again.build.build_id == first.build.build_id

        hub.fail_all = Fault(503)
        files = sorted(p.name for p in settings.live_snapshot_dir.iterdir())
        with pytest.raises(CrawlError):
            refresh_from(settings, hub, encoder, DAY2)
    assert open_builds(settings).current_id() == first.build.build_id
    assert sorted(p.name for p in settings.live_snapshot_dir.iterdir()) == files


def test_ingest_command(settings: Settings, monkeypatch):
    from hfmrs.hub.cli import register
    from hfmrs.settings import get_settings

    app = typer.Typer()
    register(app)
    monkeypatch.setenv("HFMRS_HOME", str(settings.home))
    monkeypatch.setenv("HFMRS_SNAPSHOT_DIR", str(settings.snapshot_dir))
    get_settings.cache_clear()
    try:
        with running(FakeHub([copy.deepcopy(r) for r in bundled_hub_rows()[:30]])) as hub:
            result = CliRunner().invoke(app, ["ingest", "--limit", "25", "--endpoint", hub.url])
            assert result.exit_code == 0, result.output
            assert "25 models" in result.output
            hub.fail_all = Fault(404)
            failed = CliRunner().invoke(app, ["ingest", "--limit", "10", "--endpoint", hub.url])
        assert failed.exit_code == 1
        assert len(list(settings.live_snapshot_dir.glob("*.jsonl.gz"))) == 1
    finally:
        get_settings.cache_clear()


def test_refresh_while_another_build_runs_exits_1_saying_who_builds(settings: Settings, monkeypatch):
    from hfmrs.hub.cli import register
    from hfmrs.settings import get_settings
    from tests.hfmrs.store.test_lock import hold

    app = typer.Typer()
    register(app)
    monkeypatch.setenv("HFMRS_HOME", str(settings.home))
    monkeypatch.setenv("HFMRS_SNAPSHOT_DIR", str(settings.snapshot_dir))
    get_settings.cache_clear()
    holder = hold(settings.home)
    try:
        with running(FakeHub([copy.deepcopy(r) for r in bundled_hub_rows()[:20]])) as hub:
            result = CliRunner().invoke(app, ["refresh", "--limit", "10", "--endpoint", hub.url])
    finally:
        holder.communicate(input="", timeout=30)
        get_settings.cache_clear()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "is running in this home (pid" in result.output and "hint: wait for it to finish" in result.output
