"""Live ingest against a fake Hub on 127.0.0.1: pagination, every injected fault, resume, exact results."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from hfmrs.catalog import load_catalog, load_snapshot
from hfmrs.hub.crawl import (
    EXPAND,
    CrawlBusyError,
    CrawlCancelled,
    CrawlError,
    RetryPolicy,
    _locked,
    crawl,
    invalid_reason,
    pipeline_tags,
)
from hfmrs.settings import Settings
from tests.fake_hub import FakeHub, Fault, bundled_hub_rows, running

DAY1 = date(2025, 6, 1)
DAY2 = date(2025, 7, 1)
LIMIT, PAGE = 120, 25  # five pages, the last one cut short by the limit


@pytest.fixture
def hub():
    with running(FakeHub(list(bundled_hub_rows()))) as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> RetryPolicy:
    return RetryPolicy(max_retries=3, backoff_base=0.5, backoff_cap=4.0, sleep=sleeps.append)


def run(settings: Settings, hub: FakeHub, policy: RetryPolicy, today: date = DAY1, **kwargs):
    options = {"limit": LIMIT, "page_size": PAGE, **kwargs}
    return crawl(settings, endpoint=hub.url, retry=policy, today=today, **options)


def snapshot_lines(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def live_files(settings: Settings) -> dict[str, bytes]:
    folder = settings.live_snapshot_dir
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def catalog_dump(settings: Settings) -> list[dict]:
    catalog = load_catalog(settings.snapshot_dir, settings.live_snapshot_dir)
    return [r.to_dict() for r in sorted(catalog, key=lambda r: r.id)]


def test_clean_crawl_writes_exactly_the_top_models(settings: Settings, hub: FakeHub, policy, sleeps):
    result = run(settings, hub, policy)

    expected = hub.expected(LIMIT, list(EXPAND), sort="downloads")
    assert result.snapshot == settings.live_snapshot_dir / "hf-models-2025-06-01-live.jsonl.gz"
    assert snapshot_lines(result.snapshot) == expected  # every record exactly as the Hub served it, in order
    assert (result.records, result.skipped, result.pages, result.requests, result.retries) == (LIMIT, 0, 5, 5, 0)
    assert not result.resumed and sleeps == []
    # Asked for every field the catalog uses, then followed the Link cursor (never rebuilt the query).
    first, *rest = hub.requests
    assert "cursor" not in first and all("cursor=" in r for r in rest)
    assert sorted(p.split("=")[1] for p in first.split("?")[1].split("&") if p.startswith("expand=")) == sorted(EXPAND)
    assert not (settings.crawls_dir / result.crawl_id).exists()  # pages are cleaned up once the snapshot exists
    meta = json.loads((settings.live_snapshot_dir / "hf-models-2025-06-01-live.meta.json").read_text())
    assert (meta["models"], meta["skipped"], meta["pages"]) == (LIMIT, 0, 5)

    # The live snapshot becomes catalog records, field by field.
    bert = next(r for r in load_snapshot(result.snapshot) if r.id == "google-bert/bert-base-uncased")
    assert bert.to_dict() == {
        "id": "google-bert/bert-base-uncased",
        "author": "google-bert",
        "pipeline_tag": "fill-mask",
        "library": "transformers",
        "tags": bundled_hub_rows()[1]["tags"],
        "architectures": ["PoptorchPipelinedBertForPreTraining"],
        "model_type": "bert",
        "datasets": ["bookcorpus", "wikipedia"],
        "languages": ["en"],
        "license": "apache-2.0",
        "arxiv": ["1810.04805"],
        "base_models": [],
        "downloads": 61_903_514,
        "likes": 1811,
        "last_modified": "2024-02-19T11:06:12Z",
        "snapshot": "2025-06-01",
        "aliases": [],
        "created_at": "2022-08-08T01:00:00Z",
        "params": 1_100_000_811,
        "params_source": "safetensors",
        "weight_format": None,
        "gated": None,
        "context_length": None,
        "leaderboard": None,
        "purposes": [],
        "family": None,
        "stem": "",
        "copy": False,
        "test_copy": False,
        "quality": 0.0,
        "history": {"2025-06-01": {"downloads": 61_903_514, "likes": 1811}},
        "params_billions": 1.100001,
        "download_velocity": None,
        "leaderboard_average": None,
        "formats": ["coreml", "onnx"],  # from its tags: the `format` filter reads it
    }
    # Merged with the bundled-style snapshots: the 2024 record's history continues into the live one.
    merged = load_catalog(settings.snapshot_dir, settings.live_snapshot_dir).get("bert-base-uncased")
    assert merged.id == "google-bert/bert-base-uncased"
    assert merged.history == {
        "2023-04": {"downloads": 46_000_000, "likes": None},
        "2024-09": {"downloads": 61_000_000, "likes": None},
        "2025-06-01": {"downloads": 61_903_514, "likes": 1811},
    }
    assert merged.download_velocity == round((61_903_514 - 61_000_000) / 273, 3)  # 2024-09-01 -> 2025-06-01


def test_fake_hub_speaks_the_real_client(hub: FakeHub, monkeypatch, settings, policy):
    """huggingface_hub's own list_models, pointed at the fake Hub, sees the same models the crawl keeps."""
    from huggingface_hub import HfApi, constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest keeps the library offline
    listed = list(HfApi(endpoint=hub.url).list_models(sort="downloads", limit=LIMIT, expand=list(EXPAND)))
    result = run(settings, hub, policy)
    assert [m.id for m in listed] == [r["id"] for r in snapshot_lines(result.snapshot)]
    assert listed[1].safetensors.total == 1_100_000_811 and listed[1].card_data.license == "apache-2.0"


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(settings, hub, policy, sleeps):
    hub.plan = {2: Fault(429, retry_after="7"), 3: Fault(500), 4: Fault(503), 7: Fault(502)}
    result = run(settings, hub, policy)
    # 429 waits what Retry-After says; 5xx back off exponentially (0.5 base) per request, from the start.
    assert sleeps == [7.0, 1.0, 2.0, 0.5]
    assert (result.retries, result.requests, result.pages) == (4, 9, 5)
    assert snapshot_lines(result.snapshot) == hub.expected(LIMIT, list(EXPAND), sort="downloads")
    assert hub.requests[1] == hub.requests[2] == hub.requests[3] == hub.requests[4]  # the same page again


def test_retry_after_as_http_date_and_cap(settings, hub, sleeps):
    policy = RetryPolicy(max_retries=3, retry_after_cap=30.0, sleep=sleeps.append)
    hub.plan = {1: Fault(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"), 2: Fault(429, retry_after="86400")}
    run(settings, hub, policy)
    assert sleeps == [0.0, 30.0]  # a date in the past: go now; a day: clamped to the cap


def test_dropped_connection_resumes_from_the_same_page(settings, hub, policy, sleeps):
    hub.plan = {3: Fault(drop=True)}
    result = run(settings, hub, policy)
    assert hub.requests[3] == hub.requests[2] and "cursor=" in hub.requests[2]  # page 3 again, not page 1
    assert (result.retries, result.requests) == (1, 6)
    assert sleeps == [0.5]
    lines = snapshot_lines(result.snapshot)
    assert lines == hub.expected(LIMIT, list(EXPAND), sort="downloads")
    assert len({r["id"] for r in lines}) == LIMIT


def test_malformed_records_are_skipped_and_counted(settings, hub, policy):
    rows = bundled_hub_rows()
    hub.malformed = {
        rows[10]["id"]: {"_id": "x", "id": 42, "downloads": "lots"},
        rows[30]["id"]: "not an object",
        rows[31]["id"]: {"_id": "y", "id": "acme/odd", "createdAt": "yesterday"},  # huggingface_hub can't parse
    }
    result = run(settings, hub, policy)
    lines = snapshot_lines(result.snapshot)
    assert result.skipped == 3 and result.records == LIMIT
    assert lines == hub.expected(LIMIT, list(EXPAND), sort="downloads")
    assert {r["id"] for r in lines}.isdisjoint(hub.malformed) and lines[-1]["id"] == rows[LIMIT + 2]["id"]
    assert [r.id for r in load_snapshot(result.snapshot)] == [r["id"] for r in lines]


def test_invalid_reason_accepts_real_shapes_and_names_the_problem():
    assert invalid_reason(bundled_hub_rows()[0]) is None
    assert invalid_reason({"_id": "a", "id": "x/y"}) is None  # every expanded field is optional
    assert "bad id" in invalid_reason({"id": "has space"})
    assert "bad likes" in invalid_reason({"id": "x/y", "likes": -1})
    assert "tags" in invalid_reason({"id": "x/y", "tags": "bert"})
    assert "safetensors.total" in invalid_reason({"id": "x/y", "safetensors": {"total": "7B"}})


def test_failed_crawl_keeps_the_previous_snapshot_then_resumes(settings, hub, policy):
    first = run(settings, hub, policy)
    before_files, before_catalog = live_files(settings), catalog_dump(settings)

    # Two pages succeed, then the Hub keeps failing until the retries run out.
    def break_after_two_pages(progress):
        if progress.pages == 2:
            hub.fail_all = Fault(503)

    with pytest.raises(CrawlError, match="after 3 retries"):
        run(settings, hub, policy, today=DAY2, progress=break_after_two_pages)
    assert live_files(settings) == before_files  # the failed crawl replaced nothing
    assert catalog_dump(settings) == before_catalog
    state = json.loads((settings.crawls_dir / first.crawl_id / "state.json").read_text())
    assert state["pages"] == ["page-00000.jsonl", "page-00001.jsonl"] and state["snapshot_date"] == "2025-07-01"

    hub.fail_all = None
    hub.requests.clear()
    second = run(settings, hub, policy, today=date(2025, 7, 2))  # the next day: still the 07-01 crawl
    assert second.resumed and second.snapshot_date == "2025-07-01"
    assert second.requests == 3 and "cursor=" in hub.requests[0]  # from page 3, not page 1
    assert snapshot_lines(second.snapshot) == hub.expected(LIMIT, list(EXPAND), sort="downloads")
    assert sorted(live_files(settings)) == [
        "hf-models-2025-06-01-live.jsonl.gz",
        "hf-models-2025-06-01-live.meta.json",
        "hf-models-2025-07-01-live.jsonl.gz",
        "hf-models-2025-07-01-live.meta.json",
    ]
    assert live_files(settings)["hf-models-2025-06-01-live.jsonl.gz"] == before_files[first.snapshot.name]


def test_ctrl_c_mid_crawl_resumes_without_duplicates(settings, hub, policy):
    def interrupt(progress):
        if progress.pages == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(settings, hub, policy, progress=interrupt)
    assert live_files(settings) == {}  # no snapshot from an incomplete crawl
    (crawl_dir,) = settings.crawls_dir.iterdir()
    # A crash between writing a page and committing it leaves an orphan page: it must not count.
    (crawl_dir / "page-00003.jsonl").write_text(json.dumps(bundled_hub_rows()[0]) + "\n")

    hub.requests.clear()
    result = run(settings, hub, policy)
    assert result.resumed and result.requests == 2
    lines = snapshot_lines(result.snapshot)
    assert lines == hub.expected(LIMIT, list(EXPAND), sort="downloads")
    assert len({r["id"] for r in lines}) == len(lines) == LIMIT


def test_killed_process_resumes(settings, hub, policy):
    """A crawl SIGKILLed mid-way (no cleanup runs at all) continues where its last committed page ended."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from datetime import date
        from pathlib import Path
        from hfmrs.hub.crawl import crawl
        from hfmrs.settings import Settings

        def die(progress):
            if progress.pages == 2:
                os.kill(os.getpid(), signal.SIGKILL)

        settings = Settings(home=Path(sys.argv[1]), snapshot_dir=Path(sys.argv[2]), _env_file=None)
        crawl(settings, limit=120, page_size=25, endpoint=sys.argv[3], today=date(2025, 6, 1), progress=die)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HFMRS_")}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(settings.home), str(settings.snapshot_dir), hub.url],
        env=env,
        timeout=60,
        capture_output=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert live_files(settings) == {}
    hub.requests.clear()
    result = run(settings, hub, policy)
    assert result.resumed and result.requests == 3
    assert snapshot_lines(result.snapshot) == hub.expected(LIMIT, list(EXPAND), sort="downloads")


def test_cancel_stops_between_pages_and_busy_crawls_refuse(settings, hub, policy):
    pages = []
    with pytest.raises(CrawlCancelled):
        run(settings, hub, policy, progress=pages.append, cancel=lambda: len(pages) >= 1)
    (crawl_dir,) = settings.crawls_dir.iterdir()
    with _locked(crawl_dir), pytest.raises(CrawlBusyError):
        run(settings, hub, policy)
    result = run(settings, hub, policy)
    assert result.resumed and len(snapshot_lines(result.snapshot)) == LIMIT


def test_per_task_adds_the_top_of_every_pipeline_tag(settings, hub, policy):
    tasks = ["audio-classification", "mask-generation", "fill-mask", "no-such-task"]
    result = run(settings, hub, policy, limit=20, per_task=3, tasks=tasks)
    ids = [r["id"] for r in snapshot_lines(result.snapshot)]
    expected = [r["id"] for r in hub.expected(20, list(EXPAND), sort="downloads")]
    for task in tasks:
        top = [r["id"] for r in hub.expected(3, list(EXPAND), sort="downloads", pipeline_tag=task)]
        expected += [i for i in top if i not in expected]
    assert ids == expected and len(ids) == len(set(ids))
    rare = [r["id"] for r in bundled_hub_rows() if r["pipeline_tag"] == "mask-generation"]
    assert len(rare) == 1 and set(rare) <= set(ids)  # a rare task is represented though not in the global top 20
    assert not set(rare) & set(expected[:20])
    assert any("pipeline_tag=no-such-task" in r for r in hub.requests)  # an empty task costs one request


def test_per_task_defaults_to_every_hub_pipeline_type(settings, hub, policy):
    result = run(settings, hub, policy, limit=10, per_task=1, page_size=10)
    assert result.pages == 1 + 57  # the global top plus one page per bundled pipeline type
    tags = {r["pipeline_tag"] for r in bundled_hub_rows()} & set(pipeline_tags())  # text2text-generation is gone
    assert result.records == len(
        {r["id"] for r in hub.expected(10, list(EXPAND), sort="downloads")}
        | {r["id"] for t in tags if t for r in hub.expected(1, list(EXPAND), sort="downloads", pipeline_tag=t)}
    )


def test_a_stale_interrupted_crawl_starts_over(settings, hub, policy):
    with pytest.raises(KeyboardInterrupt):
        run(settings, hub, policy, progress=lambda p: (_ for _ in ()).throw(KeyboardInterrupt))
    result = run(settings, hub, policy, today=date(2025, 7, 1))
    assert not result.resumed and result.snapshot_date == "2025-07-01"


def test_bad_arguments_and_hub_refusals(settings, hub, policy):
    with pytest.raises(ValueError, match="unknown sort"):
        run(settings, hub, policy, sort="stars")
    with pytest.raises(ValueError):
        run(settings, hub, policy, page_size=5000)
    hub.fail_all = Fault(401)
    with pytest.raises(CrawlError, match="refused"):
        run(settings, hub, policy)
    assert len(hub.requests) == 1  # a 401 is not retried
