"""A fake Hugging Face Hub for the ingest tests: ``GET /api/models`` on 127.0.0.1, nothing else.

It answers with the Hub's JSON shapes (``_id``, ``id`` and only the ``expand``-ed fields) and paginates
the way the Hub does, with an opaque ``cursor`` in a ``Link: <...>; rel="next"`` header.  Rows are built
deterministically from the bundled snapshot CSVs.  Faults are scripted per request number (1-based) in
``plan`` or for every request with ``fail_all``; ``malformed`` swaps a model's record for garbage.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from hfmrs.catalog import LANGUAGE_CODES, library_from_tags, parse_list_cell
from hfmrs.settings import BUNDLED_DATA

# Typical sizes, from a MiniLM to a 70B chat model: enough spread for the "fits in N GB" filter.
PARAM_SIZES = (
    22_000_000,
    110_000_000,
    335_000_000,
    1_100_000_000,
    3_000_000_000,
    7_000_000_000,
    13_000_000_000,
    70_000_000_000,
)
SORT_KEYS = {"downloads", "likes", "createdAt", "lastModified", "trendingScore"}


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def _iso(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _read_csv(name: str) -> list[dict[str, str]]:
    with gzip.open(BUNDLED_DATA / "snapshots" / name, "rb") as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


@lru_cache
def bundled_hub_rows(count: int = 300) -> tuple[dict[str, Any], ...]:
    """The top ``count`` models of the 2024 snapshot as full Hub API records (every expandable field).

    Config (architectures, model type) comes from the 2023 snapshot where the model is there (by its
    name, as the Hub renamed legacy ids); likes, creation dates and parameter counts are derived from the
    id, so every run serves the same bytes.
    """
    rows23 = {r["modelId"].rsplit("/", 1)[-1]: r for r in _read_csv("hf-models-2023-04-top10k.csv.gz")}
    rows24 = sorted(_read_csv("hf-models-2024-09-top10k.csv.gz"), key=lambda r: (-int(r["downloads"]), r["modelId"]))
    out = []
    for row in rows24[:count]:
        model_id = row["modelId"]
        tags = parse_list_cell(row["tags"])
        seed = _digest(model_id)
        old = rows23.get(model_id.rsplit("/", 1)[-1])
        record: dict[str, Any] = {
            "_id": f"{seed:024x}"[-24:],
            "id": model_id,
            "author": row["author"],
            "cardData": {
                "license": next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None),
                "language": [t for t in tags if t in LANGUAGE_CODES],
                "datasets": [t.split(":", 1)[1] for t in tags if t.startswith("dataset:")],
            },
            "createdAt": f"2022-{seed % 12 + 1:02d}-{seed % 28 + 1:02d}T0{seed % 10}:00:00.000Z",
            "downloads": int(row["downloads"]),
            "lastModified": _iso(row["lastModified"]),
            "library_name": (old or {}).get("library_name") or library_from_tags(tags),
            "likes": seed % 5000,
            "pipeline_tag": row["pipeline_tag"] or None,
            "tags": tags,
            "trendingScore": seed % 100,
        }
        bases = [t.split(":", 1)[1] for t in tags if t.startswith("base_model:") and t.count(":") == 1]
        if bases:
            record["cardData"]["base_model"] = bases[0] if len(bases) == 1 else bases
        if old and old.get("model_type"):
            record["config"] = {
                "architectures": parse_list_cell(old.get("architectures")),
                "model_type": old["model_type"],
            }
        if seed % 4:  # a quarter of the models have no safetensors weights (and so no parameter count)
            total = PARAM_SIZES[seed % len(PARAM_SIZES)] + seed % 1000
            record["safetensors"] = {"parameters": {"F32": total}, "total": total}
        out.append(record)
    return tuple(out)


@dataclass
class Fault:
    """What to answer instead of the page: an HTTP status (with optional Retry-After) or a dropped body."""

    status: int = 500
    retry_after: str | None = None
    drop: bool = False  # headers and half the body, then the connection is cut


@dataclass
class FakeHub:
    rows: list[dict[str, Any]]
    plan: dict[int, Fault] = field(default_factory=dict)  # request number (1-based) -> fault
    fail_all: Fault | None = None
    malformed: dict[str, Any] = field(default_factory=dict)  # model id -> what is served in its place
    requests: list[str] = field(default_factory=list)  # every request's path and query, in order
    url: str = ""

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    # -- what the Hub would list --------------------------------------------------------------------
    def listing(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        rows = list(self.rows)
        if tag := query.get("pipeline_tag", [None])[0]:
            rows = [r for r in rows if r.get("pipeline_tag") == tag]
        sort = query.get("sort", [None])[0]
        if sort in SORT_KEYS:
            rows.sort(key=lambda r: (r.get(sort) or 0, r["_id"]), reverse=True)  # the Hub sorts descending
        return rows

    def serve(self, row: dict[str, Any], expand: list[str]) -> Any:
        if row["id"] in self.malformed:
            return self.malformed[row["id"]]
        if not expand:  # the Hub's default fields
            expand = ["downloads", "likes", "tags", "pipeline_tag", "library_name", "createdAt"]
        return {"_id": row["_id"], "id": row["id"], **{k: row[k] for k in expand if k in row}}

    def expected(self, limit: int, expand: list[str], **query: str) -> list[Any]:
        """What a fault-free crawl of the top ``limit`` should collect (malformed records left out)."""
        rows = self.listing({k: [v] for k, v in query.items()})
        return [self.serve(r, expand) for r in rows if r["id"] not in self.malformed][:limit]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with hub.lock:
                hub.requests.append(self.path)
                number = len(hub.requests)
                fault = hub.plan.get(number) or hub.fail_all
            if parts.path != "/api/models":
                self.send_error(404)
                return
            query = parse_qs(parts.query)
            if fault is not None and not fault.drop:
                body = json.dumps({"error": f"injected {fault.status}"}).encode()
                self.send_response(fault.status)
                if fault.retry_after is not None:
                    self.send_header("Retry-After", fault.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            expand = query.get("expand", []) + query.get("expand[]", [])
            limit = min(int(query.get("limit", ["1000"])[0]), 1000)
            cursor = query.get("cursor", [None])[0]
            offset = json.loads(base64.urlsafe_b64decode(cursor))["offset"] if cursor else 0
            rows = hub.listing(query)
            page = [hub.serve(r, expand) for r in rows[offset : offset + limit]]
            body = json.dumps(page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if offset + limit < len(rows):
                token = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
                params = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
                link = f"{hub.url}/api/models?{urlencode([*params, ('cursor', token)])}"
                self.send_header("Link", f'<{link}>; rel="next"')
            self.end_headers()
            if fault is not None and fault.drop:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # the client sees a body cut short
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # dropped connections are on purpose
        pass


class running:
    """``with running(FakeHub(rows)) as hub:`` serves ``hub`` on a free port of 127.0.0.1 in a thread."""

    def __init__(self, hub: FakeHub):
        self.hub = hub
        self.server = _QuietServer(("127.0.0.1", 0), _handler(hub))
        hub.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self.hub

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
