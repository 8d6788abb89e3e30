"""The embedder and ingest services, and the calls between them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hfmrs.clients import EmbedderClient
from hfmrs.store.builds import EdgeBuilds
from services.embedder.app import MAX_TEXTS
from services.ingest.app import create_app as create_ingest
from tests.services.conftest import ADMIN_TOKEN
from tests.services.test_recommender_api import error

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_embed_returns_unit_vectors_of_the_encoder(embedder_http: TestClient, encoder):
    body = embedder_http.post("/embed", json={"texts": ["gpt2 text generation", "nothing known"]}).json()
    assert body["encoder"] == encoder.name and body["dim"] == encoder.dim
    assert body["vectors"] == encoder.encode(["gpt2 text generation", "nothing known"]).tolist()


def test_embed_limits(embedder_http: TestClient):
    error(embedder_http.post("/embed", json={"texts": []}), 422, "invalid_parameter")
    error(embedder_http.post("/embed", json={"texts": ["x"] * (MAX_TEXTS + 1)}), 422, "invalid_parameter")
    error(embedder_http.post("/embed", json={"texts": ["x" * 1001]}), 422, "invalid_parameter")
    error(embedder_http.post("/embed", json={"text": "x"}), 422, "invalid_parameter")
    error(
        embedder_http.post("/embed", content=b"not json", headers={"Content-Type": "application/json"}),
        422,
        "invalid_parameter",
    )


def test_embedder_health(embedder_http: TestClient, encoder):
    assert embedder_http.get("/health").json() == {
        "status": "ok",
        "encoder": encoder.name,
        "dim": encoder.dim,
        "device": "cpu",
    }


def test_ingest_build_job_embeds_through_the_embedder_service(admin_settings, embedder_http, encoder):
    ingest = TestClient(create_ingest(admin_settings, encoder=EmbedderClient(embedder_http)))
    error(ingest.post("/jobs", json={"kind": "build"}), 401, "unauthorized")
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
    error(ingest.get("/jobs/nope"), 404, "unknown_job")
    error(ingest.post("/jobs", json={"kind": "teleport"}, headers=AUTH), 422, "invalid_parameter")
    error(ingest.post("/jobs", json={"kind": "ingest", "limit": 0}, headers=AUTH), 422, "invalid_parameter")


def test_embedder_stale_job_fills_missing_vectors(admin_settings, embedder_http, built, encoder):
    from hfmrs.embed_job import stale_points

    builds = EdgeBuilds(admin_settings.home)
    store = builds.open(built.build_id)
    try:
        assert stale_points(store, encoder.name) == []
        store.set_payload(["gpt2-medium"], {"text_encoder": "an-old-encoder"})
        assert [m for m, _ in stale_points(store, encoder.name)] == ["gpt2-medium"]
        job = embedder_http.post("/jobs", json={}, headers=AUTH).json()
        status = embedder_http.get(f"/jobs/{job['id']}").json()
        for _ in range(200):
            if status["status"] in ("succeeded", "failed"):
                break
            status = embedder_http.get(f"/jobs/{job['id']}").json()
        assert status["status"] == "succeeded" and status["result"]["embedded"] == 1
        assert stale_points(store, encoder.name) == []
    finally:
        store.close()
    error(embedder_http.post("/jobs", json={"build_id": "no-such-build"}, headers=AUTH), 404, "unknown_build")
