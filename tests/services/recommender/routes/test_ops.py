"""Operations routes: health, admin reload, the seed's /recommend, CORS, the error shape, the live swap."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hfmrs.pipeline import build
from services.recommender.app import create_app
from tests.conftest import SNAPSHOT_2024, row24, write_snapshots
from tests.services.conftest import ADMIN_TOKEN, api_error


def test_legacy_recommend_contract(api: TestClient):
    rows = api.get("/recommend", params={"model_id": "gpt2", "recommend_no": 3, "sort_by": "downloads-desc"}).json()
    assert len(rows) == 3 and all(set(r) == {"model_id", "score"} for r in rows)
    assert "openai-community/gpt2" not in [r["model_id"] for r in rows]
    rows_none = api.get("/recommend", params={"model_id": "gpt2", "method": "jaccard", "sort_by": "none"}).json()
    assert len(rows_none) == 10
    api_error(api.get("/recommend", params={"model_id": "gpt2", "sort_by": "upwards"}), 422, "invalid_parameter")
    api_error(api.get("/recommend", params={"model_id": "gpt-two"}), 404, "unknown_model")


def test_health(api: TestClient, built):
    body = api.get("/health").json()
    assert body["status"] == "ok" and body["build_id"] == built.build_id
    assert body["models"] == 15 and body["snapshots"] == ["2023-04", "2024-09"]
    assert body["encoder"].startswith("keywords-")
    known = body["coverage"]  # how many models have a size and likes: the UI's filters and sorts say so
    assert known["models"] == 15 and 0 < known["size"] < 15 and 0 <= known["likes"] <= 15


def test_health_is_503_before_any_build(admin_settings, embedder_http):
    from services.clients import EmbedderClient
    from services.recommender.live import LiveEngine

    api = TestClient(
        create_app(admin_settings, live=LiveEngine(admin_settings), embedder=EmbedderClient(embedder_http))
    )
    api_error(api.get("/health"), 503, "not_ready")
    api_error(api.get("/v1/models/gpt2/similar"), 503, "not_ready")


def test_cors_allows_huggingface_and_localhost_only(api: TestClient):
    for origin in ("https://huggingface.co", "http://localhost:7860", "http://127.0.0.1:3000"):
        response = api.get("/v1/models/gpt2/similar", headers={"Origin": origin})
        assert response.headers.get("access-control-allow-origin") == origin
    response = api.get("/v1/models/gpt2/similar", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_admin_endpoints_need_the_token(api: TestClient, admin_settings, live, embedder_http):
    api_error(api.post("/admin/reload"), 401, "unauthorized")
    api_error(api.post("/admin/reload", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert api.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    from services.clients import EmbedderClient

    off = TestClient(
        create_app(
            admin_settings.model_copy(update={"admin_token": None}), live=live, embedder=EmbedderClient(embedder_http)
        )
    )
    api_error(off.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}), 404, "not_found")


def test_unknown_route_and_method_use_the_error_shape(api: TestClient):
    api_error(api.get("/nope"), 404, "not_found")
    api_error(api.delete("/v1/models/gpt2/similar"), 405, "method_not_allowed")


def test_live_swap_serves_a_new_build_without_restart(api: TestClient, admin_settings, encoder, live):
    before = api.get("/health").json()["build_id"]
    with live.acquire() as in_flight:  # a request that is still running during the switch
        rows = [*SNAPSHOT_2024, row24("acme/brand-new-vit", ["vit", "image-classification"], "image-classification", 5)]
        write_snapshots(admin_settings.snapshot_dir, rows24=rows)
        after = build(admin_settings, encoder=encoder, show_progress=False).build_id
        assert after != before
        body = api.get("/v1/models/vision/vit-base/similar", params={"k": 3}).json()
        assert "acme/brand-new-vit" in [r["id"] for r in body["results"]]
        assert api.get("/health").json()["build_id"] == after
        # the old engine still answers for the request that started on it
        assert in_flight.build_id == before
        assert in_flight.similar("gpt2", k=2).results


def test_a_client_over_its_suggestion_budget_gets_unknown_ids_without_suggestions(admin_settings, live, embedder_http):
    from services.clients import EmbedderClient

    settings = admin_settings.model_copy(update={"suggest_per_minute": 2})
    api = TestClient(create_app(settings, live=live, embedder=EmbedderClient(embedder_http)))
    answers = [api_error(api.get(f"/v1/models/gpt2-mediun{i}/similar"), 404, "unknown_model") for i in range(3)]
    assert "gpt2-medium" in answers[0]["suggestions"] and answers[1]["suggestions"]
    assert "suggestions" not in answers[2] and "too many unknown ids from this client" in answers[2]["message"]
    assert api.get("/v1/models/gpt2/similar").status_code == 200  # known ids are not limited


def test_the_rate_limit_answers_429_with_retry_after(admin_settings, live, embedder_http):
    from services.clients import EmbedderClient

    settings = admin_settings.model_copy(update={"rate_limit": 1.0})  # bursts of 2
    api = TestClient(create_app(settings, live=live, embedder=EmbedderClient(embedder_http)))
    statuses = [api.get("/v1/methods").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = api.get("/v1/methods", headers={"Origin": "https://huggingface.co"})
    body = api_error(limited, 429, "rate_limited")
    assert body["message"].startswith("too many requests; retry in ") and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["access-control-allow-origin"] == "https://huggingface.co"  # readable by the extension
    assert api.get("/health").status_code == 200  # operations are not limited


def test_the_default_settings_do_not_limit_requests(api: TestClient):
    assert {api.get("/v1/methods").status_code for _ in range(30)} == {200}


def test_head_works_on_get_routes_and_405_says_what_is_allowed(api: TestClient):
    head = api.head("/health")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-type"] == "application/json"
    assert api.head("/v1/models/gpt2/similar").status_code == 200
    wrong = api.put("/health")
    assert api_error(wrong, 405, "method_not_allowed") and wrong.headers["allow"] == "GET"
    assert api.post("/v1/models/gpt2/similar").headers["allow"] == "GET"


def test_openapi_lists_the_statuses_routes_return(api: TestClient):
    paths = api.get("/openapi.json").json()["paths"]
    similar = paths["/v1/models/{model_id}/similar"]["get"]["responses"]
    assert {"200", "404", "422", "429", "503"} <= set(similar)
    assert {"401", "404"} <= set(paths["/admin/reload"]["post"]["responses"])


def test_a_build_that_cannot_be_opened_is_503_store_unavailable_with_the_cause(admin_settings, built, monkeypatch):
    from hfmrs.engine import Engine
    from services.recommender.live import LiveEngine

    def read_only(*_args, **_kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(Engine, "open", read_only)  # a restarted service on a read-only or full disk
    api = TestClient(create_app(admin_settings, live=LiveEngine(admin_settings, check_interval=0.0)))
    for path in ("/health", "/v1/models/gpt2/similar"):
        body = api_error(api.get(path), 503, "store_unavailable")
        assert body["message"] == f"cannot open build {built.build_id}: [Errno 30] Read-only file system"


def test_a_new_build_that_cannot_be_opened_leaves_the_serving_one(admin_settings, built, api, monkeypatch):
    from hfmrs.engine import Engine

    assert api.get("/health").json()["build_id"] == built.build_id
    (admin_settings.home / "CURRENT").write_text("20991231T000000-deadbeef-0001\n")  # a newer build ...
    (admin_settings.home / "builds" / "20991231T000000-deadbeef-0001").mkdir()
    (admin_settings.home / "builds" / "20991231T000000-deadbeef-0001" / "manifest.json").write_text("{}")

    tries: list[str] = []

    def full_disk(*args, **_kwargs):
        tries.append(args[-1])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Engine, "open", full_disk)  # ... that cannot be opened
    for _ in range(3):
        health = api.get("/health")
        assert health.status_code == 200 and health.json()["build_id"] == built.build_id
    assert tries == ["20991231T000000-deadbeef-0001"]  # tried once, not at every check
    api.app.state.live.reload()  # the operator freed the disk: a reload tries again
    assert len(tries) == 2
