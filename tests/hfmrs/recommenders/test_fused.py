"""The fused method (the default) on the bundled catalog: family and alternatives, copies, reputable first."""

from __future__ import annotations

import pytest

from hfmrs.filters import Filters
from hfmrs.purpose import main_purpose
from hfmrs.recommenders.fused import (
    DEFAULT_WEIGHTS,
    FEATURES,
    FIXED_WEIGHTS,
    MODEL_FEATURES,
    SOURCES,
    FusedRecommender,
    size_closeness,
)

pytestmark = pytest.mark.minilm

SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"


def test_feature_table_and_weights_line_up():
    assert (*(f"rank_{s}" for s in SOURCES), *MODEL_FEATURES, "underused") == FEATURES
    assert set(DEFAULT_WEIGHTS) <= set(FEATURES) and FIXED_WEIGHTS.items() <= DEFAULT_WEIGHTS.items()
    query = {"id": "a/x", "purposes": ["sentiment"], "pipeline_tag": "text-classification", "params_billions": 0.1}
    rows = FusedRecommender._model_features(query, [query, {"id": "b/y", "test_copy": True}])
    assert rows.shape == (2, len(MODEL_FEATURES))
    named = dict(zip(MODEL_FEATURES, rows[1], strict=True))
    assert named["test_copy"] == 1.0 and named["same_purpose"] == 0.0 and named["similar_size"] == 0.5


@pytest.mark.parametrize(
    ("a", "b", "closeness"), [(1.0, 1.0, 1.0), (1.0, 2.0, 0.5), (8.0, 2.0, 0.25), (None, 3.0, 0.5)]
)
def test_size_closeness(a, b, closeness):
    assert size_closeness(a, b) == pytest.approx(closeness)


def test_main_purpose_prefers_the_specific_one():
    assert main_purpose({"purposes": ["text-classification", "sentiment"], "pipeline_tag": "text-classification"}) == (
        "sentiment"
    )
    assert main_purpose({"purposes": ["language-model", "chat"], "pipeline_tag": "text-generation"}) == "chat"
    assert main_purpose({"purposes": [], "pipeline_tag": None}) is None


def test_sentiment_model_lists_other_well_known_sentiment_models(bundled_engine):
    result = bundled_engine.similar(SST2, k=10)
    assert result.method == "fused"
    alternatives = {r.id for r in result.results if r.relation == "alternative"}
    # other architectures, other authors: what a practitioner would weigh against it
    assert {"cardiffnlp/twitter-roberta-base-sentiment-latest", "nlptown/bert-base-multilingual-uncased-sentiment"} <= (
        alternatives
    )
    assert all(r.downloads >= 100 for r in result.results)


def test_relation_keeps_one_side(bundled_engine):
    family = bundled_engine.similar("openai/whisper-large-v2", k=8, relation="family").results
    alternatives = bundled_engine.similar("openai/whisper-large-v2", k=8, relation="alternatives").results
    assert len(family) == 8 and {r.relation for r in family} == {"family"}
    assert all(r.id.startswith("openai/whisper-") for r in family[:5])
    assert len(alternatives) == 8 and {r.relation for r in alternatives} == {"alternative"}
    assert not {r.id for r in family} & {r.id for r in alternatives}


def test_all_keeps_room_for_alternatives_when_the_family_is_large(bundled_engine):
    results = bundled_engine.similar("Qwen/Qwen3-8B", k=10).results
    relations = [r.relation for r in results]
    assert relations.count("alternative") >= 3 and relations[0] == "family"
    longer = bundled_engine.similar("Qwen/Qwen3-8B", k=30).results
    assert [r.id for r in longer[:10]] == [r.id for r in results]  # a longer list starts as the short one


def test_copies_collapse_under_the_model_they_copy(bundled_engine):
    collapsed = bundled_engine.similar("openai/whisper-large-v2", k=10).results
    turbo = next(r for r in collapsed if r.id == "openai/whisper-large-v3-turbo")
    assert turbo.variants and all(v not in {r.id for r in collapsed} for v in turbo.variants)
    flat = {r.id for r in bundled_engine.similar("openai/whisper-large-v2", k=100, collapse=False).results}
    assert set(turbo.variants) <= flat  # uncollapsed, the copies are results of their own


def test_popular_queries_keep_copies_and_rarely_used_models_out(bundled_engine):
    # The rules, over the 60 most downloaded models: at most 2 copies standing in a list, and no
    # model under 100 downloads while five models of its purpose have ten times as many.
    points = list(bundled_engine.store.scroll(fields=["id", "downloads", "purposes", "pipeline_tag"]))
    downloads_by_purpose: dict[str, list[int]] = {}
    for p in points:
        if purpose := main_purpose(p.payload):
            downloads_by_purpose.setdefault(purpose, []).append(p.payload.get("downloads") or 0)
    payloads = {p.payload["id"]: p.payload for p in points}
    popular = sorted(points, key=lambda p: -(p.payload.get("downloads") or 0))[:60]
    for query in popular:
        results = bundled_engine.similar(query.payload["id"], k=10).results
        info = [bundled_engine.info(r.id) for r in results]
        assert sum(1 for i in info if i.get("copy") or i.get("test_copy")) <= 2, query.payload["id"]
        for r in results:
            if r.downloads < 100:
                purpose = main_purpose(payloads[r.id])
                better = [d for d in downloads_by_purpose.get(purpose, []) if d >= 10 * max(r.downloads, 1)]
                assert len(better) < 5, (query.payload["id"], r.id)


def test_the_rarely_used_rule_counts_peers_under_the_request_filters(bundled_engine):
    fused = bundled_engine.recommenders["fused"]
    points = bundled_engine.store.scroll(fields=["id", "author", "downloads", "purposes", "pipeline_tag"])
    rare = next(
        p.payload for p in points if (p.payload.get("downloads") or 0) < 100 and main_purpose(p.payload) == "sentiment"
    )
    assert fused._underused(rare, Filters(), {})  # five sentiment models have 10x its downloads
    # asked for its author's models only, its peers are those: it is not demoted for the others
    assert not fused._underused(rare, Filters(author=rare["author"]), {})


def test_why_says_when_the_quality_prior_acted(bundled_engine):
    results = bundled_engine.similar(SST2, k=10).results
    assert any(any(w.startswith("widely used: ") for w in r.why) for r in results)
    assert any("also a sentiment model" in r.why for r in results)


def test_copy_heavy_candidates_still_leave_originals_for_the_page(bundled_engine):
    # A new release's quantizations outnumber the originals among its candidates: the fused method
    # hands the engine at least k/2 originals (when it has them) so the copies' cap can apply.
    fused = bundled_engine.recommenders["fused"]
    query = bundled_engine.store.retrieve(["Qwen/Qwen3.6-35B-A3B-FP8"], with_vectors=fused.needs_vectors)[0]
    hits = fused.similar(query, 12, Filters().with_exclude(query.id))
    originals = [h for h in hits if not (h.payload.get("copy") or h.payload.get("test_copy"))]
    assert len(hits) == 12 and len(originals) >= 6
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
