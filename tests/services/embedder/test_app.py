"""The embedder service: /embed, its limits, health, and the stale-vector job."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hfmrs.store.builds import EdgeBuilds
from services.embedder.app import MAX_BATCH_CHARS, MAX_BODY_BYTES, MAX_TEXTS
from tests.services.conftest import ADMIN_TOKEN, api_error

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_embed_returns_unit_vectors_of_the_encoder(embedder_http: TestClient, encoder):
    body = embedder_http.post("/embed", json={"texts": ["gpt2 text generation", "nothing known"]}).json()
    assert body["encoder"] == encoder.name and body["dim"] == encoder.dim
    assert body["vectors"] == encoder.encode(["gpt2 text generation", "nothing known"]).tolist()


def test_embed_limits(embedder_http: TestClient):
    api_error(embedder_http.post("/embed", json={"texts": []}), 422, "invalid_parameter")
    api_error(embedder_http.post("/embed", json={"texts": ["x"] * (MAX_TEXTS + 1)}), 422, "invalid_parameter")
    api_error(embedder_http.post("/embed", json={"texts": ["x" * 1001]}), 422, "invalid_parameter")
    api_error(embedder_http.post("/embed", json={"text": "x"}), 422, "invalid_parameter")
    api_error(
        embedder_http.post("/embed", content=b"not json", headers={"Content-Type": "application/json"}),
        422,
        "invalid_parameter",
    )


def test_embed_body_and_batch_limits_are_413(embedder_http: TestClient):
    big = embedder_http.post(
        "/embed", content=b"x" * (MAX_BODY_BYTES + 1), headers={"Content-Type": "application/json"}
    )
    assert api_error(big, 413, "payload_too_large")["message"] == "the request body is over 2,000,000 bytes"
    # Chunked (no Content-Length): counted while it streams in, refused the same way, not FastAPI's 400.
    chunks = (b"x" * 100_000 for _ in range(MAX_BODY_BYTES // 100_000 + 1))
    streamed = embedder_http.post("/embed", content=chunks, headers={"Content-Type": "application/json"})
    assert api_error(streamed, 413, "payload_too_large")["message"] == "the request body is over 2,000,000 bytes"
    json_body = {"Content-Type": "application/json"}
    small = embedder_http.post("/embed", content=iter([b'{"texts": ', b'["a chunked body"]}']), headers=json_body)
    assert small.status_code == 200 and len(small.json()["vectors"]) == 1  # a small chunked body still arrives
    batch = embedder_http.post("/embed", json={"texts": ["y" * 1000] * (MAX_BATCH_CHARS // 1000 + 1)})
    message = api_error(batch, 413, "payload_too_large")["message"]
    assert message == "at most 64,000 characters per request, got 65,000; send smaller batches"
    assert embedder_http.post("/embed", json={"texts": ["y" * 1000] * 64}).status_code == 200  # right at the limit
    documented = embedder_http.get("/openapi.json").json()["paths"]["/embed"]["post"]["responses"]
    assert {"200", "413", "422"} <= set(documented)


def test_embedder_health(embedder_http: TestClient, encoder):
    assert embedder_http.get("/health").json() == {
        "status": "ok",
        "encoder": encoder.name,
        "dim": encoder.dim,
        "device": "cpu",
    }


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
    api_error(embedder_http.post("/jobs", json={"build_id": "no-such-build"}, headers=AUTH), 404, "unknown_build")
