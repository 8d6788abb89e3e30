"""The ingest service: build jobs through the embedder service, failures that keep the serving build, job errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hfmrs.store.builds import EdgeBuilds
from services.clients import EmbedderClient
from services.ingest.app import create_app as create_ingest
from tests.services.conftest import ADMIN_TOKEN, api_error

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_ingest_build_job_embeds_through_the_embedder_service(admin_settings, embedder_http, encoder):
    ingest = TestClient(create_ingest(admin_settings, encoder=EmbedderClient(embedder_http)))
    api_error(ingest.post("/jobs", json={"kind": "build"}), 401, "unauthorized")
    job = ingest.post("/jobs", json={"kind": "build", "train": False}, headers=AUTH).json()
    assert job["kind"] == "build" and job["status"] in ("queued", "running", "succeeded")
    done = ingest.app.state.jobs.wait(job["id"], timeout=60)
    assert done.status == "succeeded", done.error
    status = ingest.get(f"/jobs/{job['id']}").json()
    assert status["result"]["models"] == 15 and status["result"]["embedded"] == 15
    assert encoder.calls == 15  # every soup went to the embedder service once
    assert EdgeBuilds(admin_settings.home).current_id() == status["result"]["build_id"]
    # inputs unchanged: the next job is a no-op
    again = ingest.app.state.jobs.wait(
        ingest.post("/jobs", json={"kind": "build", "train": False}, headers=AUTH).json()["id"]
    )
    assert again.result["skipped"] is True and encoder.calls == 15


def test_ingest_job_with_the_embedder_down_fails_cleanly_and_keeps_serving(admin_settings, built, down_embedder):
    ingest = TestClient(create_ingest(admin_settings, encoder=down_embedder))
    job = ingest.post("/jobs", json={"kind": "build", "force": True, "train": False}, headers=AUTH).json()
    done = ingest.app.state.jobs.wait(job["id"])
    assert done.status == "failed" and "embedder service unreachable" in done.error
    assert EdgeBuilds(admin_settings.home).current_id() == built.build_id


def test_ingest_job_errors(admin_settings, embedder_http):
    ingest = TestClient(create_ingest(admin_settings, encoder=EmbedderClient(embedder_http)))
    api_error(ingest.get("/jobs/nope"), 404, "unknown_job")
    api_error(ingest.post("/jobs", json={"kind": "teleport"}, headers=AUTH), 422, "invalid_parameter")
    api_error(ingest.post("/jobs", json={"kind": "ingest", "limit": 0}, headers=AUTH), 422, "invalid_parameter")
