"""What an unknown id costs the recommender, beside a hit: server CPU per ``GET /v1/models/{id}/similar``.

The recommender app runs in-process (FastAPI TestClient, so no network and no load generator CPU in the
way) over a build; CPU is this process's time.  Cells, 2,000 requests each (same order every run):
hits (random known ids); a storm of unique unknown ids from one client with the default "did you mean"
budget (``HFMRS_SUGGEST_PER_MINUTE`` = 60: the first 60 get suggestions, the rest a plain 404); the same
storm with no budget (every miss runs the fuzzy search, as before issue 19); and repeated unknown ids
(the LRU of recent misses answers).  Target (issue 19): a storm costs < 2x a hit.

    .venv/bin/python benchmarks/unknown_ids.py --home /tmp/bh      # an existing build (make run's: .hfmrs)
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, header, print_table, write_json


def cpu_per_request(client: Any, paths: list[str]) -> float:
    """Milliseconds of this process's CPU per request, after a short warm-up."""
    for path in paths[:50]:
        client.get(path)
    start = time.process_time()
    for path in paths:
        client.get(path)
    return (time.process_time() - start) * 1000 / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="HFMRS_HOME with a completed build")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from hfmrs.settings import Settings
    from services.recommender.app import create_app
    from services.recommender.live import LiveEngine

    report: dict[str, Any] = header("unknown_ids", smoke=False)
    base = Settings(home=args.home, _env_file=None)
    live = LiveEngine(base, check_interval=3600.0)
    rng = random.Random(7)
    with live.acquire() as engine:
        known = list(engine.ids)
    hits = [f"/v1/models/{m}/similar?k=10" for m in rng.choices(known, k=args.requests)]
    storm = [f"/v1/models/{m}-x{i}/similar?k=10" for i, m in enumerate(rng.choices(known, k=args.requests))]
    repeated = [f"/v1/models/{m}-typo/similar?k=10" for m in rng.choices(known[:20], k=args.requests)]
    rows, cells = [], {}
    for label, settings, paths in (
        ("hits (known ids)", base, hits),
        ("unique unknown ids, default budget (60/min)", base, storm),
        ("unique unknown ids, no budget", base.model_copy(update={"suggest_per_minute": 0}), storm),
        ("repeated unknown ids (LRU)", base.model_copy(update={"suggest_per_minute": 0}), repeated),
    ):
        client = TestClient(create_app(settings, live=live))
        ms = cpu_per_request(client, paths)
        cells[label] = ms
        rows.append([label, len(paths), f"{ms:.2f}"])
    hit = cells["hits (known ids)"]
    for row in rows:
        row.append(f"{cells[row[0]] / hit:.2f}x")
    print_table("server CPU per request, in-process", ["requests", "n", "CPU ms", "vs a hit"], rows)
    live.close()
    report["cells_ms"] = cells
    write_json(RESULTS / "unknown_ids.json", report)


if __name__ == "__main__":
    main()
