"""Routes of /v1/models and /v1/search: similar models, ids, filters, sorts, search, record, autocomplete."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.recommender.app import create_app
from tests.services.conftest import api_error


def test_similar_shape_and_ranking(api: TestClient):
    body = api.get("/v1/models/openai-community/gpt2/similar", params={"k": 3}).json()
    assert body["query"] == "openai-community/gpt2" and body["method"] == "cosine"
    assert len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) == {
        "id",
        "score",
        "match",
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
        "relation",
        "variants",
    }
    assert set(body) == {"query", "method", "results", "unknown_size", "notes"}
    assert body["unknown_size"] is None and body["notes"] == []  # no size filter, score order
    assert all(r["id"] != "openai-community/gpt2" for r in body["results"])
    assert "same task: text-generation" in first["why"]
    assert 0 <= first["match"] <= 100 and first["match"] == round(100 * first["score"])  # cosine: the score itself


@pytest.mark.parametrize("path", ["gpt2", "openai-community/gpt2", "openai-community%2Fgpt2", "GPT2", "gpt2/"])
def test_ids_with_slashes_legacy_and_encoded_route(api: TestClient, path: str):
    body = api.get(f"/v1/models/{path}/similar", params={"k": 2}).json()
    assert body["query"] == "openai-community/gpt2"


@pytest.mark.parametrize("junk", ["gpt-2-mediun", "ünïcødé/🤗", "' OR 1=1 --", "<script>alert(1)</script>", "a/b/c/d"])
def test_unknown_ids_get_404_with_suggestions(api: TestClient, junk: str):
    err = api_error(api.get(f"/v1/models/{junk}/similar"), 404, "unknown_model")
    assert isinstance(err["suggestions"], list) and len(err["suggestions"]) == 5


def test_unknown_id_suggests_the_right_model(api: TestClient):
    err = api_error(api.get("/v1/models/gpt2-mediun/similar"), 404, "unknown_model")
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
    api_error(api.get("/v1/models/gpt2/similar", params=params), 422, "invalid_parameter")


def test_overlong_ids_and_queries_are_422(api: TestClient):
    api_error(api.get("/v1/models/" + "a" * 201 + "/similar"), 422, "invalid_parameter")
    api_error(api.get("/v1/models/" + "a" * 201), 422, "invalid_parameter")
    api_error(api.get("/v1/search", params={"q": "x" * 1001}), 422, "invalid_parameter")
    api_error(api.get("/v1/search", params={"q": "   "}), 422, "invalid_parameter")
    api_error(api.get("/v1/search"), 422, "invalid_parameter")


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


def test_model_info_and_autocomplete(api: TestClient):
    info = api.get("/v1/models/gpt2").json()
    assert info["id"] == "openai-community/gpt2" and info["aliases"] == ["gpt2"]
    assert "tokens" not in info
    api_error(api.get("/v1/models/nope-nope"), 404, "unknown_model")
    rows = api.get("/v1/models", params={"prefix": "vision/", "limit": 5}).json()
    assert rows == [{"id": "vision/vit-base", "downloads": 2_000_000}, {"id": "vision/vit-large", "downloads": 300_000}]
    api_error(api.get("/v1/models", params={"limit": 0}), 422, "invalid_parameter")


def test_free_text_search_goes_through_the_embedder(api: TestClient):
    body = api.get("/v1/search", params={"q": "image classification vit", "k": 2}).json()
    assert body["query"] == "image classification vit"
    assert [r["id"] for r in body["results"]] == ["vision/vit-base", "vision/vit-large"]
    body = api.get("/v1/search", params={"q": "speech", "k": 1, "method": "cosine"}).json()
    assert body["results"][0]["id"] == "acme/wav2vec2-speech"


def test_search_with_the_embedder_down_is_503(admin_settings, live, down_embedder):
    api = TestClient(create_app(admin_settings, live=live, embedder=down_embedder))
    err = api_error(api.get("/v1/search", params={"q": "speech"}), 503, "dependency_unavailable")
    assert "embedder" in err["message"]
    # everything that does not need the embedder keeps working
    assert api.get("/v1/models/gpt2/similar").status_code == 200


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
    api_error(api.get("/v1/models/gpt2/similar", params={"fits_in_gb": 24, "dtype": "fp8"}), 422, "invalid_parameter")
    api_error(api.get("/v1/models/gpt2/similar", params={"fits_in_gb": 0}), 422, "invalid_parameter")
    plain = api.get("/v1/models/gpt2/similar", params={"k": 100}).json()
    assert plain["unknown_size"] is None and "acme/empty" in [r["id"] for r in plain["results"]]


def test_diversity_parameters(api: TestClient):
    capped = api.get("/v1/models/gpt2/similar", params={"k": 4, "per_author": 1}).json()["results"]
    authors = [r["id"].split("/")[0] for r in capped if "/" in r["id"]]
    assert len(authors) == len(set(authors))
    mmr = api.get("/v1/models/gpt2/similar", params={"k": 4, "diversity": 0.3}).json()["results"]
    assert len(mmr) == 4 and "openai-community/gpt2" not in [r["id"] for r in mmr]
    api_error(api.get("/v1/models/gpt2/similar", params={"diversity": 1.5}), 422, "invalid_parameter")
    api_error(api.get("/v1/models/gpt2/similar", params={"per_author": 0}), 422, "invalid_parameter")


def test_relation_filter_and_labels(api: TestClient):
    url = "/v1/models/gpt2/similar"
    family = api.get(url, params={"k": 10, "relation": "family"}).json()["results"]
    assert {r["relation"] for r in family} == {"family"}
    assert {"gpt2-medium", "openai-community/gpt2-large", "acme/gpt2-finetuned"} <= {r["id"] for r in family}
    alternatives = api.get(url, params={"k": 10, "relation": "alternatives"}).json()["results"]
    assert alternatives and {r["relation"] for r in alternatives} == {"alternative"}
    everything = api.get(url, params={"k": 14}).json()["results"]
    assert {r["id"] for r in everything} == {r["id"] for r in family} | {r["id"] for r in alternatives}
    err = api_error(api.get(url, params={"relation": "cousins"}), 422, "invalid_parameter")
    assert "relation" in err["message"]


def test_copies_collapse_into_variants_unless_asked_not_to(api: TestClient):
    url = "/v1/models/gpt2-medium/similar"
    collapsed = api.get(url, params={"k": 14}).json()["results"]
    gpt2 = next(r for r in collapsed if r["id"] == "openai-community/gpt2")
    assert gpt2["variants"] == ["acme/gpt2-gguf"]  # the GGUF copy, under the model it copies
    assert "acme/gpt2-gguf" not in {r["id"] for r in collapsed}
    flat = api.get(url, params={"k": 14, "collapse": "false"}).json()["results"]
    assert "acme/gpt2-gguf" in {r["id"] for r in flat} and all(r["variants"] == [] for r in flat)
    api_error(api.get(url, params={"collapse": "sometimes"}), 422, "invalid_parameter")


def test_search_says_what_it_understood_and_explicit_parameters_win(api: TestClient):
    body = api.get("/v1/search", params={"q": "speech recognition under 1B parameters", "k": 3}).json()
    assert body["method"] == "fused"
    assert body["understood"] == {
        "tasks": ["automatic-speech-recognition"],
        "purposes": ["asr"],
        "max_params_billions": 1.0,
    }
    params = {"q": "speech recognition under 1B parameters", "pipeline_tag": "image-classification"}
    params["max_params_billions"] = 50
    body = api.get("/v1/search", params=params).json()
    assert body["understood"] == {}  # the explicit task and size replace the inferred ones
    assert {r["pipeline_tag"] for r in body["results"]} == {"image-classification"}
    body = api.get(
        "/v1/search", params={"q": "speech recognition under 1B", "ignore": ["tasks", "max_params_billions"]}
    )
    assert body.json()["understood"] == {}
    plain = api.get("/v1/search", params={"q": "speech recognition", "method": "cosine"}).json()
    assert plain["method"] == "cosine" and plain["understood"] == {}


def test_search_refuses_bad_parameters(api: TestClient):
    err = api_error(api.get("/v1/search", params={"q": "speech", "ignore": "colour"}), 422, "invalid_parameter")
    assert "cannot ignore 'colour'" in err["message"]
    api_error(api.get("/v1/search", params={"q": "speech", "method": "magic"}), 422, "invalid_parameter")
    api_error(api.get("/v1/search", params={"q": "speech", "commercial": "maybe"}), 422, "invalid_parameter")
