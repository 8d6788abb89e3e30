"""Property-based API testing: schemathesis against the recommender's live OpenAPI schema.

A real uvicorn server on 127.0.0.1 serves a small build; the schemathesis CLI generates requests
from the schema (valid and invalid) and checks: no 5xx, and every response conforms to the schema
(status codes, content types, bodies).  (The CLI rather than the pytest plugin, which does not
support this pytest version.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from hfmrs.embedding import KeywordEncoder
from hfmrs.pipeline import build
from hfmrs.settings import Settings
from services.clients import EmbedderClient
from services.embedder.app import create_app as create_embedder
from services.recommender.app import create_app
from services.recommender.live import LiveEngine
from tests.conftest import KEYWORDS, write_snapshots
from tests.services.conftest import LiveServer

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_schemathesis_finds_no_5xx_and_no_schema_violation(tmp_path: Path):
    cfg = Settings(
        home=tmp_path / "home",
        snapshot_dir=write_snapshots(tmp_path / "snap"),
        vector_cache=tmp_path / "none",
        _env_file=None,
    )
    encoder = KeywordEncoder(KEYWORDS)
    build(cfg, encoder=encoder, show_progress=False)
    embedder = EmbedderClient(TestClient(create_embedder(cfg, encoder=encoder)))
    live = LiveEngine(cfg)
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    try:
        with LiveServer(create_app(cfg, live=live, embedder=embedder)) as server:
            run = subprocess.run(
                [
                    cli,
                    "run",
                    f"{server.url}/openapi.json",
                    "--checks",
                    CHECKS,
                    "--max-examples",
                    "25",
                    "--seed",
                    "1",
                    "--request-timeout",
                    "10",
                    "--no-color",
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
    finally:
        live.close()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or "passed" in run.stdout.lower(), run.stdout[-2000:]
    print(run.stdout[-1500:])
