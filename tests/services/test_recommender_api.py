"""The public API: every endpoint, parameter and error, through the in-process app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hfmrs.pipeline import build
from services.recommender.app import create_app
from tests.conftest import SNAPSHOT_2024, row24, write_snapshots
from tests.services.conftest import ADMIN_TOKEN


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_similar_shape_and_ranking(api: TestClient):
    body = api.get("/v1/models/openai-community/gpt2/similar", params={"k": 3}).json()
    assert body["query"] == "openai-community/gpt2" and body["method"] == "cosine"
    assert len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) == {
        "id",
        "score",
        "downloads",
        "likes",
        "pipeline_tag",
        "library",
        "last_modified",
        "why",
        "license",
        "params_billions",
        "params_source",
        "weight_format",
        "leaderboard_average",
    }
    assert set(body) == {"query", "method", "results", "unknown_size", "notes"}
    assert body["unknown_size"] is None and body["notes"] == []  # no size filter, score order
    assert all(r["id"] != "openai-community/gpt2" for r in body["results"])
    assert "same task: text-generation" in first["why"]


@pytest.mark.parametrize("path", ["gpt2", "openai-community/gpt2", "openai-community%2Fgpt2", "GPT2", "gpt2/"])
def test_ids_with_slashes_legacy_and_encoded_route(api: TestClient, path: str):
    body = api.get(f"/v1/models/{path}/similar", params={"k": 2}).json()
    assert body["query"] == "openai-community/gpt2"


@pytest.mark.parametrize("junk", ["gpt-2-mediun", "ünïcødé/🤗", "' OR 1=1 --", "<script>alert(1)</script>", "a/b/c/d"])
def test_unknown_ids_get_404_with_suggestions(api: TestClient, junk: str):
    err = error(api.get(f"/v1/models/{junk}/similar"), 404, "unknown_model")
    assert isinstance(err["suggestions"], list) and len(err["suggestions"]) == 5


def test_unknown_id_suggests_the_right_model(api: TestClient):
    err = error(api.get("/v1/models/gpt2-mediun/similar"), 404, "unknown_model")
    assert err["suggestions"][0] == "gpt2-medium"


@pytest.mark.parametrize(
    "params",
    [
        {"k": 0},
        {"k": 101},
        {"k": "ten"},
        {"method": "nope"},
        {"sort": "sideways"},
        {"min_downloads": -1},
        {"cluster": -2},
    ],
)
def test_bad_parameters_are_422(api: TestClient, params: dict):
    error(api.get("/v1/models/gpt2/similar", params=params), 422, "invalid_parameter")


def test_overlong_ids_and_queries_are_422(api: TestClient):
    error(api.get("/v1/models/" + "a" * 201 + "/similar"), 422, "invalid_parameter")
    error(api.get("/v1/models/" + "a" * 201), 422, "invalid_parameter")
    error(api.get("/v1/search", params={"q": "x" * 1001}), 422, "invalid_parameter")
    error(api.get("/v1/search", params={"q": "   "}), 422, "invalid_parameter")
    error(api.get("/v1/search"), 422, "invalid_parameter")


def test_filters_and_sorts(api: TestClient):
    body = api.get("/v1/models/gpt2/similar", params={"k": 5, "pipeline_tag": "image-classification"}).json()
    assert [r["id"] for r in body["results"]] == ["vision/vit-base", "vision/vit-large"]
    body = api.get("/v1/models/gpt2/similar", params={"k": 10, "license": "llama2"}).json()
    assert [r["id"] for r in body["results"]] == ["meta/llama-7b"]
    body = api.get(
        "/v1/models/gpt2/similar", params={"k": 4, "min_downloads": 1_000_000, "sort": "downloads-asc"}
    ).json()
    downloads = [r["downloads"] for r in body["results"]]
    assert downloads == sorted(downloads) and min(downloads) >= 1_000_000
    body = api.get("/v1/models/gpt2/similar", params={"k": 3, "library": "gguf"}).json()
    assert [r["id"] for r in body["results"]] == ["acme/gpt2-gguf"]
    body = api.get("/v1/models/gpt2/similar", params={"k": 3, "author": "vision"}).json()
    assert {r["id"] for r in body["results"]} == {"vision/vit-base", "vision/vit-large"}


def test_methods_listed_and_usable(api: TestClient):
    methods = api.get("/v1/methods").json()
    names = [m["name"] for m in methods]
    assert {"cosine", "jaccard"} <= set(names)
    assert sum(m["default"] for m in methods) == 1
    for name in names:
        body = api.get("/v1/models/bert-base-uncased/similar", params={"method": name, "k": 2}).json()
        assert body["method"] == name and len(body["results"]) == 2


def test_model_info_and_autocomplete(api: TestClient):
    info = api.get("/v1/models/gpt2").json()
    assert info["id"] == "openai-community/gpt2" and info["aliases"] == ["gpt2"]
    assert "tokens" not in info
    error(api.get("/v1/models/nope-nope"), 404, "unknown_model")
    rows = api.get("/v1/models", params={"prefix": "vision/", "limit": 5}).json()
    assert rows == [{"id": "vision/vit-base", "downloads": 2_000_000}, {"id": "vision/vit-large", "downloads": 300_000}]
    error(api.get("/v1/models", params={"limit": 0}), 422, "invalid_parameter")


def test_free_text_search_goes_through_the_embedder(api: TestClient):
    body = api.get("/v1/search", params={"q": "image classification vit", "k": 2}).json()
    assert body["query"] == "image classification vit"
    assert [r["id"] for r in body["results"]] == ["vision/vit-base", "vision/vit-large"]
    body = api.get("/v1/search", params={"q": "speech", "k": 1}).json()
    assert body["results"][0]["id"] == "acme/wav2vec2-speech"


def test_search_with_the_embedder_down_is_503(admin_settings, live, down_embedder):
    api = TestClient(create_app(admin_settings, live=live, embedder=down_embedder))
    err = error(api.get("/v1/search", params={"q": "speech"}), 503, "dependency_unavailable")
    assert "embedder" in err["message"]
    # everything that does not need the embedder keeps working
    assert api.get("/v1/models/gpt2/similar").status_code == 200


def test_legacy_recommend_contract(api: TestClient):
    rows = api.get("/recommend", params={"model_id": "gpt2", "recommend_no": 3, "sort_by": "downloads-desc"}).json()
    assert len(rows) == 3 and all(set(r) == {"model_id", "score"} for r in rows)
    assert "openai-community/gpt2" not in [r["model_id"] for r in rows]
    rows_none = api.get("/recommend", params={"model_id": "gpt2", "method": "jaccard", "sort_by": "none"}).json()
    assert len(rows_none) == 10
    error(api.get("/recommend", params={"model_id": "gpt2", "sort_by": "upwards"}), 422, "invalid_parameter")
    error(api.get("/recommend", params={"model_id": "gpt-two"}), 404, "unknown_model")


def test_health(api: TestClient, built):
    body = api.get("/health").json()
    assert body["status"] == "ok" and body["build_id"] == built.build_id
    assert body["models"] == 15 and body["snapshots"] == ["2023-04", "2024-09"]
    assert body["encoder"].startswith("keywords-")


def test_health_is_503_before_any_build(admin_settings, embedder_http):
    from hfmrs.clients import EmbedderClient
    from hfmrs.serving import LiveEngine

    api = TestClient(
        create_app(admin_settings, live=LiveEngine(admin_settings), embedder=EmbedderClient(embedder_http))
    )
    error(api.get("/health"), 503, "not_ready")
    error(api.get("/v1/models/gpt2/similar"), 503, "not_ready")


def test_cors_allows_huggingface_and_localhost_only(api: TestClient):
    for origin in ("https://huggingface.co", "http://localhost:7860", "http://127.0.0.1:3000"):
        response = api.get("/v1/models/gpt2/similar", headers={"Origin": origin})
        assert response.headers.get("access-control-allow-origin") == origin
    response = api.get("/v1/models/gpt2/similar", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_admin_endpoints_need_the_token(api: TestClient, admin_settings, live, embedder_http):
    error(api.post("/admin/reload"), 401, "unauthorized")
    error(api.post("/admin/reload", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert api.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    from hfmrs.clients import EmbedderClient

    off = TestClient(
        create_app(
            admin_settings.model_copy(update={"admin_token": None}), live=live, embedder=EmbedderClient(embedder_http)
        )
    )
    error(off.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}), 404, "not_found")


def test_unknown_route_and_method_use_the_error_shape(api: TestClient):
    error(api.get("/nope"), 404, "not_found")
    error(api.delete("/v1/models/gpt2/similar"), 405, "method_not_allowed")


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


def test_fits_in_memory_filter_says_what_it_left_out(api: TestClient):
    # Sizes of the small catalog are estimates from names and families (gpt2 124M, gpt2-large 774M,
    # llama-7b 7B, ...); acme/empty has no name, type or family to size it by.
    one_gb = {"k": 100, "fits_in_gb": 1}
    body = api.get("/v1/models/gpt2/similar", params=one_gb).json()  # fp16: up to 0.447B parameters
    ids = [r["id"] for r in body["results"]]
    assert "acme/gpt2-gguf" in ids and "distilbert/distilgpt2" in ids
    assert "meta/llama-7b" not in ids and "openai-community/gpt2-large" not in ids and "acme/empty" not in ids
    assert all(r["params_billions"] is not None for r in body["results"])
    assert all(r["params_billions"] <= 0.447 or r["weight_format"] for r in body["results"])
    assert body["unknown_size"] == 1 and body["notes"] == ["1 model of unknown size left out by the size filter"]
    int4 = api.get("/v1/models/gpt2/similar", params={**one_gb, "dtype": "int4"}).json()  # up to 1.79B
    assert "openai-community/gpt2-large" in [r["id"] for r in int4["results"]]
    assert "meta/llama-7b" not in [r["id"] for r in int4["results"]]
    # a quantized copy is sized at its own format, whatever dtype is asked for
    gguf = next(r for r in int4["results"] if r["id"] == "acme/gpt2-gguf")
    assert gguf["weight_format"] == "gguf" and gguf["params_source"] == "lineage"
    error(api.get("/v1/models/gpt2/similar", params={"fits_in_gb": 24, "dtype": "fp8"}), 422, "invalid_parameter")
    error(api.get("/v1/models/gpt2/similar", params={"fits_in_gb": 0}), 422, "invalid_parameter")
    plain = api.get("/v1/models/gpt2/similar", params={"k": 100}).json()
    assert plain["unknown_size"] is None and "acme/empty" in [r["id"] for r in plain["results"]]


def test_diversity_parameters(api: TestClient):
    capped = api.get("/v1/models/gpt2/similar", params={"k": 4, "per_author": 1}).json()["results"]
    authors = [r["id"].split("/")[0] for r in capped if "/" in r["id"]]
    assert len(authors) == len(set(authors))
    mmr = api.get("/v1/models/gpt2/similar", params={"k": 4, "diversity": 0.3}).json()["results"]
    assert len(mmr) == 4 and "openai-community/gpt2" not in [r["id"] for r in mmr]
    error(api.get("/v1/models/gpt2/similar", params={"diversity": 1.5}), 422, "invalid_parameter")
    error(api.get("/v1/models/gpt2/similar", params={"per_author": 0}), 422, "invalid_parameter")
