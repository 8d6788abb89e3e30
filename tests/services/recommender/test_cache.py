"""The response cache of ``similar``: the same bytes again, never across builds, never an error, bounded."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hfmrs.pipeline import build
from services.clients import EmbedderClient
from services.recommender.app import create_app
from services.recommender.cache import ENTRY_OVERHEAD, ResponseCache
from tests.conftest import SNAPSHOT_2024, row24, write_snapshots

SIMILAR = "/v1/models/gpt2/similar"


def cache_of(api: TestClient) -> ResponseCache:
    layer = api.app.middleware_stack
    while not isinstance(layer, ResponseCache):
        layer = layer.app
    return layer


def test_a_repeated_request_gets_the_same_bytes_from_the_cache(api: TestClient):
    first = api.get(SIMILAR, params={"k": 3})
    again = api.get(SIMILAR, params={"k": 3})
    assert first.status_code == again.status_code == 200
    assert (first.headers["x-hfmrs-cache"], again.headers["x-hfmrs-cache"]) == ("miss", "hit")
    assert again.content == first.content and again.headers["content-type"] == "application/json"
    assert again.headers["content-length"] == str(len(first.content))
    other = api.get(SIMILAR, params={"k": 4})  # another question: computed, and not the same answer
    assert other.headers["x-hfmrs-cache"] == "miss" and len(other.json()["results"]) == 4
    head = api.head(SIMILAR, params={"k": 3})
    assert head.status_code == 200 and head.content == b"" and head.headers["x-hfmrs-cache"] == "hit"
    cache = cache_of(api)
    assert (cache.hits, cache.misses) == (2, 2)


def test_errors_are_not_kept(api: TestClient):
    for _ in range(2):
        unknown = api.get("/v1/models/gpt2-mediun/similar")
        assert unknown.status_code == 404 and unknown.headers["x-hfmrs-cache"] == "miss"
        bad = api.get(SIMILAR, params={"method": "nope"})
        assert bad.status_code == 422 and bad.headers["x-hfmrs-cache"] == "miss"
    assert cache_of(api).entries == {}


def test_a_new_build_is_never_answered_from_the_old_one(api: TestClient, admin_settings, encoder):
    params = {"k": 3}
    before = api.get("/v1/models/vision/vit-base/similar", params=params)
    assert api.get("/v1/models/vision/vit-base/similar", params=params).headers["x-hfmrs-cache"] == "hit"
    rows = [*SNAPSHOT_2024, row24("acme/brand-new-vit", ["vit", "image-classification"], "image-classification", 5)]
    write_snapshots(admin_settings.snapshot_dir, rows24=rows)
    build(admin_settings, encoder=encoder, show_progress=False)
    after = api.get("/v1/models/vision/vit-base/similar", params=params)
    assert after.headers["x-hfmrs-cache"] == "miss"
    assert "acme/brand-new-vit" in [r["id"] for r in after.json()["results"]]
    assert after.content != before.content
    assert len(cache_of(api).entries) == 1  # the old build's answers were dropped at the switch


def test_memory_is_bounded_least_recently_used_first(admin_settings, live, embedder_http):
    api = TestClient(create_app(admin_settings, live=live, embedder=EmbedderClient(embedder_http)))
    size = len(api.get(SIMILAR, params={"k": 5, "n": 0}).content)
    cache = cache_of(api)
    cache.max_bytes = 8 * (size + len(SIMILAR) + len("k=5&n=10") + ENTRY_OVERHEAD)  # room for 8 such answers
    # Unknown parameters change nothing in the answer but are part of the key: 12 entries of one size.
    for n in range(1, 12):
        assert api.get(SIMILAR, params={"k": 5, "n": n}).status_code == 200
    assert 0 < cache.size <= cache.max_bytes
    kept = [query for _, _, query in cache.entries]
    assert len(kept) == 8 and kept[0] == b"k=5&n=4" and kept[-1] == b"k=5&n=11"  # the oldest went first
    assert api.get(SIMILAR, params={"k": 5, "n": 11}).headers["x-hfmrs-cache"] == "hit"
    assert api.get(SIMILAR, params={"k": 5, "n": 0}).headers["x-hfmrs-cache"] == "miss"


def test_zero_turns_it_off(admin_settings, live, embedder_http):
    settings = admin_settings.model_copy(update={"response_cache_mb": 0})
    api = TestClient(create_app(settings, live=live, embedder=EmbedderClient(embedder_http)))
    for _ in range(2):
        response = api.get(SIMILAR)
        assert response.status_code == 200 and "x-hfmrs-cache" not in response.headers
