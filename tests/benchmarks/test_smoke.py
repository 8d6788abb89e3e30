"""CI smoke of every benchmark script: each runs with ``--smoke`` (tiny sizes) in a subprocess, exits 0
and writes its JSON with the expected keys.  No timing is asserted: speed is measured in benchmarks/,
never in tests (issue 9).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"

# script -> keys its JSON must have.  Timeouts are generous: a shared 2-core machine under load runs
# these several times slower than a quiet one (each takes well under 30 s of CPU).
CASES = {
    "seed_approach.py": ["machine", "results"],
    "query_latency.py": ["machine", "engine", "recall", "store", "direct"],
    "build_scale.py": ["machine", "results"],
    "api_load.py": ["machine", "load", "seed"],
    "cold_start.py": ["machine", "cold_start", "encoder"],
    "gpu_embed.py": ["machine", "result"],
    "search_latency.py": ["machine", "results", "models"],
}
USES_MINILM = {"cold_start.py", "gpu_embed.py", "search_latency.py"}


@pytest.mark.parametrize(
    "script",
    [pytest.param(s, marks=pytest.mark.minilm) if s in USES_MINILM else s for s in CASES],
)
def test_benchmark_smoke(script: str, tmp_path: Path) -> None:
    out = tmp_path / f"{script}.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HFMRS_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    data = json.loads(out.read_text())
    assert data["smoke"] is True
    for key in CASES[script]:
        assert key in data, f"{script}: {key!r} missing from its JSON"
    assert data["machine"]["cores"] >= 1
    assert "|" in proc.stdout  # it printed its (Markdown) table
    if script == "api_load.py":  # its bookkeeping, not its speed: every request is either ok or an error
        cells = {(cell["workers"], cell["ids"]) for cell in data["load"]}
        assert cells == {(1, "uniform"), (1, "popular-warm"), (2, "uniform"), (2, "popular-warm")}
        for load in data["load"]:
            assert load["ok"] + load["errors"] == load["requests"] == 200
            assert load["errors"] == 0, load["error_kinds"]
