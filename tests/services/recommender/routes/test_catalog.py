"""Catalog routes: GET /v1/methods, and GET /v1/map (the explore tab's 2-D map, computed once per build)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hfmrs import projection
from hfmrs.store.builds import open_builds


def test_map_shape_and_cache_file(api: TestClient, admin_settings, built):
    body = api.get("/v1/map").json()
    assert body["build_id"] == built.build_id and body["method"] == "pca" and body["color_by"] == "task"
    assert body["total"] == 15 and len(body["points"]) == 15
    point = next(p for p in body["points"] if p["id"] == "vision/vit-base")
    assert set(point) == {"id", "x", "y", "pipeline_tag", "cluster", "downloads"}
    assert point["pipeline_tag"] == "image-classification" and point["downloads"] == 2_000_000
    # the GPT-2 family sits closer to itself than to the vision models
    xy = {p["id"]: (p["x"], p["y"]) for p in body["points"]}

    def dist(a: str, b: str) -> float:
        return ((xy[a][0] - xy[b][0]) ** 2 + (xy[a][1] - xy[b][1]) ** 2) ** 0.5

    assert dist("openai-community/gpt2", "openai-community/gpt2-large") < dist(
        "openai-community/gpt2", "vision/vit-base"
    )
    cache = open_builds(admin_settings).artifact_dir(built.build_id) / projection.MAP_FILE
    assert cache.exists()
    # a second process (empty memory cache) reads the file instead of recomputing
    projection._memory.clear()
    assert api.get("/v1/map").json()["points"] == body["points"]


def test_map_subsample_keeps_the_included_models(api: TestClient):
    include = ["gpt2", "acme/gpt2-gguf", "meta/llama-7b"]
    body = api.get("/v1/map", params={"limit": 4, "include": include, "color_by": "cluster"}).json()
    ids = [p["id"] for p in body["points"]]
    assert len(ids) == 4 and body["total"] == 15 and body["color_by"] == "cluster"
    assert {"openai-community/gpt2", "acme/gpt2-gguf", "meta/llama-7b"} <= set(ids)  # legacy id resolved
    assert api.get("/v1/map", params={"limit": 4, "include": include}).json() == {**body, "color_by": "task"}


def test_map_errors(api: TestClient):
    assert api.get("/v1/map", params={"include": "no-such-model"}).json()["error"]["code"] == "unknown_model"
    for params in ({"limit": 0}, {"limit": 20_001}, {"color_by": "rainbow"}):
        response = api.get("/v1/map", params=params)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_parameter"


def test_map_include_is_bounded(api: TestClient):
    response = api.get("/v1/map", params={"include": ["gpt2"] * 102})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_parameter"


def test_methods_listed_and_usable(api: TestClient):
    methods = api.get("/v1/methods").json()
    names = [m["name"] for m in methods]
    assert {"cosine", "jaccard"} <= set(names)
    assert sum(m["default"] for m in methods) == 1
    for name in names:
        body = api.get("/v1/models/bert-base-uncased/similar", params={"method": name, "k": 2}).json()
        assert body["method"] == name and len(body["results"]) == 2
