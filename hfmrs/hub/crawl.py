"""A resumable crawl of the Hub's ``/api/models`` into a dated snapshot.

Each page of the listing is written to ``$HFMRS_HOME/crawls/<crawl-id>/page-NNNNN.jsonl`` and committed
in ``state.json`` (the next cursor URL of every segment, counts) with atomic renames, so a crawl killed at
any point (Ctrl-C, a crash, a cancelled service job) continues from its last committed page when it is
run again with the same arguments, never writing a model twice.  Only a complete crawl becomes a snapshot
(``$HFMRS_HOME/snapshots/hf-models-YYYY-MM-DD-live.jsonl.gz``, one Hub API record per line, renamed into
place atomically); an incomplete or failed one never touches the snapshots the catalog is built from.

The requests are the ones ``HfApi.list_models(sort=..., limit=..., expand=EXPAND)`` makes, and pages are
followed through the ``Link: <...>; rel="next"`` header exactly as huggingface_hub's ``paginate`` does.
``list_models`` itself is not called because it can only start from the first page (a resumed crawl must
start from a saved cursor), its retry sleeps can be neither injected nor bounded, and it refuses to run
under ``HF_HUB_OFFLINE=1``, which this project sets everywhere to keep *model loading* offline; a crawl is
an explicit request to go online, to the configured endpoint only.
"""

from __future__ import annotations

import contextlib
import email.utils
import fcntl
import gzip
import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import ModelInfo, constants
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

from hfmrs.settings import BUNDLED_DATA, Settings

log = logging.getLogger(__name__)

# Everything the catalog reads (see hfmrs.catalog.normalise_hub_record); the Hub returns only these fields
# (plus `_id` and `id`) when `expand` is given.
EXPAND = (
    "author",
    "cardData",
    "config",
    "createdAt",
    "downloads",
    "gated",
    "lastModified",
    "library_name",
    "likes",
    "pipeline_tag",
    "safetensors",
    "tags",
)
SORTS = ("downloads", "likes", "trendingScore", "createdAt", "lastModified")
HUB_MAX_PAGE = 1000  # the Hub's largest page for /api/models
STATE_VERSION = 1
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class CrawlError(RuntimeError):
    """The crawl stopped (retries exhausted, or the Hub refused the request); its state is kept for a re-run."""


class CrawlCancelled(CrawlError):
    """``cancel()`` asked the crawl to stop; it resumes from the last committed page when run again."""


class CrawlBusyError(CrawlError):
    """Another process is running the same crawl right now."""


@dataclass
class Segment:
    """One listing to walk: the global top (``pipeline_tag`` None) or the top of one pipeline tag."""

    name: str
    pipeline_tag: str | None
    limit: int
    next_url: str | None = None  # the cursor URL of the next page; None before the first request
    done: bool = False
    records: int = 0  # valid records read from this listing (duplicates of earlier segments included)
    written: int = 0  # records this segment added to the snapshot
    skipped: int = 0  # malformed records
    pages: int = 0


@dataclass
class CrawlState:
    crawl_id: str
    endpoint: str
    sort: str
    limit: int
    per_task: int
    page_size: int
    snapshot_date: str  # the day the crawl started: the snapshot's date, kept across resumes
    started: str
    segments: list[Segment]
    pages: list[str] = field(default_factory=list)  # committed page files, in order
    version: int = STATE_VERSION

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrawlState:
        data = dict(data)
        data["segments"] = [Segment(**s) for s in data["segments"]]
        return cls(**data)

    @property
    def complete(self) -> bool:
        return all(s.done for s in self.segments)


@dataclass
class CrawlProgress:
    """What a progress callback gets after every committed page (and on every retry)."""

    crawl_id: str
    segment: str
    segments_done: int
    segments: int
    pages: int
    records: int  # models in the snapshot so far
    skipped: int  # malformed records so far
    target: int  # the most models this crawl can write (limit + per_task x tasks)
    retries: int
    message: str = ""


@dataclass
class CrawlResult:
    crawl_id: str
    snapshot: Path
    snapshot_date: str
    records: int
    skipped: int
    pages: int
    requests: int  # HTTP requests made by this run (a resumed run makes fewer)
    retries: int
    resumed: bool


@dataclass
class RetryPolicy:
    """Exponential backoff for 429/5xx and dropped connections, honouring ``Retry-After``.

    ``sleep`` is injectable so tests run in milliseconds; ``max_retries`` bounds every request.
    """

    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    retry_after_cap: float = 600.0  # a Retry-After beyond this is clamped: a crawl never parks for hours
    sleep: Callable[[float], None] = time.sleep

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        return min(self.backoff_base * 2 ** (attempt - 1), self.backoff_cap)


# --------------------------------------------------------------------------------------------------
# Record validation


def invalid_reason(item: Any) -> str | None:
    """Why a listing record cannot go into the catalog, or None when it can.

    Checks the shapes the catalog relies on, then lets huggingface_hub's own ``ModelInfo`` parse it (a
    record that ``list_models`` itself would choke on is malformed too).
    """
    if not isinstance(item, dict):
        return f"not an object: {type(item).__name__}"
    model_id = item.get("id")
    if not isinstance(model_id, str) or not model_id.strip() or any(c.isspace() for c in model_id):
        return f"bad id {model_id!r}"
    for name in ("downloads", "likes"):
        value = item.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return f"bad {name} {value!r}"
    tags = item.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        return "tags is not a list of strings"
    for name in ("pipeline_tag", "library_name", "author", "createdAt", "lastModified"):
        if item.get(name) is not None and not isinstance(item.get(name), str):
            return f"bad {name}"
    for name in ("config", "cardData", "safetensors"):
        if item.get(name) is not None and not isinstance(item.get(name), dict):
            return f"{name} is not an object"
    total = (item.get("safetensors") or {}).get("total")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        return f"bad safetensors.total {total!r}"
    try:
        ModelInfo(**{"siblings": None, **item})
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        return f"huggingface_hub cannot parse it: {error}"
    return None


# --------------------------------------------------------------------------------------------------
# Files


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _save_state(directory: Path, state: CrawlState) -> None:
    _write_atomic(directory / "state.json", json.dumps(asdict(state), indent=1).encode())


def _load_state(directory: Path) -> CrawlState | None:
    path = directory / "state.json"
    if not path.exists():
        return None
    try:
        state = CrawlState.from_json(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as error:
        log.warning("unreadable crawl state %s (%s); starting over", path, error)
        return None
    return state if state.version == STATE_VERSION else None


def _page_records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One process per crawl directory: a service job and a CLI run of the same crawl must not interleave."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CrawlBusyError(f"crawl {directory.name} is running in another process") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def snapshot_path(directory: Path, snapshot_date: str) -> Path:
    return directory / f"hf-models-{snapshot_date}-live.jsonl.gz"


# --------------------------------------------------------------------------------------------------
# The crawl


def pipeline_tags() -> list[str]:
    """The Hub's pipeline types (bundled from @huggingface/tasks), the tasks ``--per-task`` walks."""
    return list(json.loads((BUNDLED_DATA / "hf-pipeline-types.json").read_text()))


def resolve_endpoint(settings: Settings, endpoint: str | None = None) -> str:
    """``--endpoint``, else ``HFMRS_HF_ENDPOINT`` when set, else huggingface_hub's (``HF_ENDPOINT``)."""
    if endpoint:
        return endpoint.rstrip("/")
    if "hf_endpoint" in settings.model_fields_set:
        return settings.hf_endpoint.rstrip("/")
    return (constants.ENDPOINT or settings.hf_endpoint).rstrip("/")


def crawl_id_for(endpoint: str, sort: str, limit: int, per_task: int, page_size: int, tasks: Sequence[str]) -> str:
    """Same arguments -> same id, so a re-run finds the interrupted crawl it should continue."""
    key = json.dumps([endpoint, sort, limit, per_task, page_size, list(tasks) if per_task else []])
    return f"{sort}-{limit}-t{per_task}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _first_params(sort: str, page: int, pipeline_tag: str | None) -> list[tuple[str, str]]:
    # The query HfApi.list_models(sort=..., limit=..., expand=EXPAND, pipeline_tag=...) sends.
    params = [("sort", sort), ("limit", str(page))]
    if pipeline_tag:
        params.append(("pipeline_tag", pipeline_tag))
    params.extend(("expand", name) for name in EXPAND)
    return params


def _retry_after(response: httpx2.Response) -> float | None:
    """``Retry-After`` as seconds: delay-seconds or an HTTP date (RFC 9110 allows both)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    with contextlib.suppress(TypeError, ValueError, IndexError):
        moment = email.utils.parsedate_to_datetime(value)
        return max((moment - datetime.now(UTC)).total_seconds(), 0.0)
    return None


class _Fetcher:
    """GET with bounded retries; counts requests and retries for the result."""

    def __init__(
        self, client: httpx2.Client, policy: RetryPolicy, headers: dict[str, str], on_retry: Callable[[str], None]
    ):
        self.client = client
        self.policy = policy
        self.headers = headers
        self.on_retry = on_retry
        self.requests = 0
        self.retries = 0

    def get(self, url: str, params: list[tuple[str, str]] | None) -> tuple[list[Any], str | None]:
        """(the page's records, the next page's URL or None)."""
        last_error = ""
        for attempt in range(1, self.policy.max_retries + 2):
            retry_after: float | None = None
            self.requests += 1
            try:
                response = self.client.get(url, params=params, headers=self.headers)
                if response.status_code in RETRY_STATUS:
                    retry_after = _retry_after(response)
                    last_error = f"HTTP {response.status_code}"
                else:
                    hf_raise_for_status(response)  # any other 4xx is a mistake a retry will not fix
                    records = response.json()
                    if not isinstance(records, list):
                        raise CrawlError(f"{url}: expected a JSON list of models, got {type(records).__name__}")
                    return records, response.links.get("next", {}).get("url")
            except httpx2.TransportError as error:  # dropped connection, reset, timeout, truncated body
                last_error = f"{type(error).__name__}: {error}"
            except json.JSONDecodeError as error:  # a body cut short without a Content-Length
                last_error = f"truncated or invalid JSON: {error}"
            except CrawlError:
                raise
            except Exception as error:  # hf_raise_for_status: 4xx other than 408/425/429
                raise CrawlError(f"the Hub refused {url}: {error}") from error
            if attempt > self.policy.max_retries:
                break
            wait = self.policy.wait(attempt, retry_after)
            self.retries += 1
            log.warning("%s for %s; retry %d/%d in %.1fs", last_error, url, attempt, self.policy.max_retries, wait)
            self.on_retry(f"{last_error}; retrying in {wait:.1f}s")
            self.policy.sleep(wait)
        raise CrawlError(f"giving up on {url} after {self.policy.max_retries} retries ({last_error})")


def crawl(
    settings: Settings,
    limit: int | None = None,
    sort: str = "downloads",
    per_task: int | None = None,
    endpoint: str | None = None,
    progress: Callable[[CrawlProgress], None] | None = None,
    *,
    cancel: Callable[[], bool] | None = None,
    tasks: Sequence[str] | None = None,
    page_size: int = HUB_MAX_PAGE,
    retry: RetryPolicy | None = None,
    timeout: float = 60.0,
    today: date | None = None,
    max_resume_days: int = 7,
    client: httpx2.Client | None = None,
) -> CrawlResult:
    """Crawl the top ``limit`` models by ``sort`` (plus the top ``per_task`` of every pipeline tag) into a
    dated snapshot in ``settings.live_snapshot_dir``; continue an interrupted crawl of the same arguments.

    ``progress`` is called after every committed page; ``cancel`` is polled before every request and stops
    the crawl (resumable) when it returns True.  Raises :class:`CrawlError` when the Hub keeps failing; the
    state on disk is then kept and the current snapshots are untouched.
    """
    limit = settings.ingest_limit if limit is None else limit
    per_task = settings.ingest_per_task if per_task is None else per_task
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose one of: {', '.join(SORTS)}")
    if limit < 1 or per_task < 0 or not 1 <= page_size <= HUB_MAX_PAGE:
        raise ValueError("limit must be >= 1, per_task >= 0 and page_size from 1 to 1000")
    endpoint = resolve_endpoint(settings, endpoint)
    tasks = list(tasks) if tasks is not None else pipeline_tags()
    crawl_id = crawl_id_for(endpoint, sort, limit, per_task, page_size, tasks)
    directory = settings.crawls_dir / crawl_id
    out_dir = settings.live_snapshot_dir or settings.home / "snapshots"
    retry = retry or RetryPolicy()
    today = today or datetime.now(UTC).date()

    with _locked(directory):
        state, resumed = _start_or_resume(
            directory, crawl_id, endpoint, sort, limit, per_task, page_size, tasks, today, max_resume_days
        )
        _drop_uncommitted_pages(directory, state)
        seen = {item["id"] for name in state.pages for item in _page_records(directory / name)}
        listing = Listing(directory, state, seen, limit + per_task * len(tasks), progress)
        own_client = client is None
        http = client or httpx2.Client(follow_redirects=True, timeout=timeout)
        fetcher = _Fetcher(
            http,
            retry,
            build_hf_headers(library_name="hfmrs"),
            lambda message: listing.report(fetcher.retries, message),
        )
        try:
            listing.fetch_all(fetcher, cancel)
        finally:
            if own_client:
                http.close()
        snapshot = _finalise(directory, state, out_dir)
        result = CrawlResult(
            crawl_id=crawl_id,
            snapshot=snapshot,
            snapshot_date=state.snapshot_date,
            records=len(seen),
            skipped=sum(s.skipped for s in state.segments),
            pages=len(state.pages),
            requests=fetcher.requests,
            retries=fetcher.retries,
            resumed=resumed,
        )
    shutil.rmtree(directory, ignore_errors=True)  # the snapshot is in place: the crawl's pages are spent
    log.info(
        "crawl %s complete: %d models (%d malformed skipped) -> %s", crawl_id, result.records, result.skipped, snapshot
    )
    return result


def _start_or_resume(
    directory: Path,
    crawl_id: str,
    endpoint: str,
    sort: str,
    limit: int,
    per_task: int,
    page_size: int,
    tasks: Sequence[str],
    today: date,
    max_resume_days: int,
) -> tuple[CrawlState, bool]:
    """The saved state of this crawl when it can be resumed, else a fresh one (saved). (state, resumed)"""
    state = _load_state(directory)
    if state is not None and (today - date.fromisoformat(state.snapshot_date)).days > max_resume_days:
        # Pages weeks apart would make one "snapshot" of mixed dates; velocity needs honest dates.
        log.warning("crawl %s started %s, too long ago to resume; starting over", crawl_id, state.snapshot_date)
        state = None
    if state is not None:
        log.info("resuming crawl %s (%d pages committed)", crawl_id, len(state.pages))
        return state, True
    for stale in directory.glob("page-*.jsonl"):
        stale.unlink()
    segments = [Segment("global", None, limit)]
    if per_task:
        segments += [Segment(f"task:{tag}", tag, per_task) for tag in tasks]
    state = CrawlState(
        crawl_id=crawl_id,
        endpoint=endpoint,
        sort=sort,
        limit=limit,
        per_task=per_task,
        page_size=page_size,
        snapshot_date=today.isoformat(),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        segments=segments,
    )
    _save_state(directory, state)
    log.info("crawl %s: %d listings from %s", crawl_id, len(segments), endpoint)
    return state, False


def _drop_uncommitted_pages(directory: Path, state: CrawlState) -> None:
    # Pages written but never committed (killed between the page file and state.json) are dropped;
    # their cursor is still the saved one, so they are fetched again.
    committed = set(state.pages)
    for path in directory.iterdir():
        if path.name.startswith(("page-", ".page-")) and path.name not in committed:
            path.unlink()


@dataclass
class Listing:
    """One crawl's walk through its listings (segments), page by page, committing each page."""

    directory: Path
    state: CrawlState
    seen: set[str]
    target: int
    progress: Callable[[CrawlProgress], None] | None
    segment: str = ""

    def report(self, retries: int, message: str = "") -> None:
        if self.progress is None:
            return
        self.progress(
            CrawlProgress(
                crawl_id=self.state.crawl_id,
                segment=self.segment,
                segments_done=sum(s.done for s in self.state.segments),
                segments=len(self.state.segments),
                pages=len(self.state.pages),
                records=len(self.seen),
                skipped=sum(s.skipped for s in self.state.segments),
                target=self.target,
                retries=retries,
                message=message,
            )
        )

    def fetch_all(self, fetcher: _Fetcher, cancel: Callable[[], bool] | None) -> None:
        state = self.state
        for segment in state.segments:
            self.segment = segment.name
            while not segment.done:
                if cancel is not None and cancel():
                    raise CrawlCancelled(f"crawl {state.crawl_id} cancelled; run it again to continue")
                page = min(state.page_size, segment.limit)
                if segment.next_url is None:
                    url = f"{state.endpoint}/api/models"
                    params: list[tuple[str, str]] | None = _first_params(state.sort, page, segment.pipeline_tag)
                else:
                    url, params = segment.next_url, None  # the cursor URL carries the query already
                records, next_url = fetcher.get(url, params)
                _commit_page(self.directory, state, segment, records, next_url, self.seen)
                self.report(fetcher.retries)


def _commit_page(
    directory: Path,
    state: CrawlState,
    segment: Segment,
    records: list[Any],
    next_url: str | None,
    seen: set[str],
) -> None:
    """Write one page's new records, then move the segment's cursor past it, each atomically."""
    rows: list[dict[str, Any]] = []
    for item in records:
        if segment.records >= segment.limit:
            break
        if (reason := invalid_reason(item)) is not None:
            segment.skipped += 1
            log.warning("skipping a malformed record in %s: %s", segment.name, reason)
            continue
        segment.records += 1
        if item["id"] in seen:  # already in the global top or an earlier task's top
            continue
        seen.add(item["id"])
        rows.append(item)
    name = f"page-{len(state.pages):05d}.jsonl"
    body = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows)
    _write_atomic(directory / name, body.encode("utf-8"))
    segment.pages += 1
    segment.written += len(rows)
    segment.next_url = next_url
    segment.done = next_url is None or segment.records >= segment.limit or not records
    state.pages.append(name)
    _save_state(directory, state)  # the commit point: the page counts only once this rename lands


def _finalise(directory: Path, state: CrawlState, out_dir: Path) -> Path:
    """The committed pages, in order, as one gzip JSONL snapshot, renamed into place atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = snapshot_path(out_dir, state.snapshot_date)
    tmp = out_dir / f".{target.name}.{os.getpid()}.tmp"
    try:
        # mtime=0: the same crawl gives the same bytes, so build input hashes only change with the data.
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            for name in state.pages:
                gz.write((directory / name).read_bytes())
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {
        "crawl_id": state.crawl_id,
        "endpoint": state.endpoint,
        "sort": state.sort,
        "limit": state.limit,
        "per_task": state.per_task,
        "started": state.started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": sum(s.written for s in state.segments),
        "skipped": sum(s.skipped for s in state.segments),
        "pages": len(state.pages),
    }
    _write_atomic(out_dir / target.name.replace(".jsonl.gz", ".meta.json"), json.dumps(meta, indent=1).encode())
    return target
