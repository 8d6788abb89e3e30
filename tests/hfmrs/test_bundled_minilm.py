"""Ranking on real models: the full bundled catalog with its real all-MiniLM-L6-v2 vectors.

The vectors come from the shipped cache (data/vectors), so this builds in seconds; one test also runs
the real encoder to check the shipped vectors match what MiniLM computes now.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.minilm

GPT2_FAMILY = {
    "openai-community/gpt2-medium",
    "openai-community/gpt2-large",
    "openai-community/gpt2-xl",
    "distilbert/distilgpt2",
}


def ids(result):
    return [r.id for r in result.results]


def test_gpt2_family_on_top_by_legacy_and_canonical_id(bundled_engine):
    legacy = bundled_engine.similar("gpt2", k=10, method="cosine")
    canonical = bundled_engine.similar("openai-community/gpt2", k=10, method="cosine")
    assert ids(legacy) == ids(canonical)
    assert set(ids(legacy)) >= GPT2_FAMILY
    assert set(ids(legacy)[:4]) & GPT2_FAMILY >= {
        "openai-community/gpt2-medium",
        "openai-community/gpt2-large",
        "openai-community/gpt2-xl",
    }
    assert "openai-community/gpt2" not in ids(legacy) and "gpt2" not in ids(legacy)


def test_bert_jaccard_returns_bert_fill_mask_models(bundled_engine):
    result = bundled_engine.similar("bert-base-uncased", k=10, method="jaccard")
    assert result.query == "google-bert/bert-base-uncased"
    assert all(r.pipeline_tag == "fill-mask" for r in result.results)
    assert all("bert" in r.id.lower() for r in result.results)
    assert "google-bert/bert-base-cased" in ids(result)[:3]
    assert "google-bert/bert-base-uncased" not in ids(result)


def test_shipped_vectors_match_the_real_encoder(bundled_engine):
    from hfmrs.embedding import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder()
    assert encoder.name == bundled_engine.manifest["encoder"]
    payloads = [bundled_engine.info(m) for m in ("gpt2", "bert-base-uncased", "openai/whisper-large-v2")]
    stored = bundled_engine.store.retrieve([p["id"] for p in payloads], with_vectors=["text"])
    fresh = encoder.encode([p["soup"] for p in payloads])
    for point, vector in zip(stored, fresh, strict=True):
        assert float(np.dot(point.vectors["text"], vector)) > 0.999  # float16 storage rounding only


def test_default_fused_on_known_models(bundled_engine):
    assert bundled_engine.default_method == "fused"
    gpt2 = ids(bundled_engine.similar("gpt2", k=10))
    assert set(gpt2[:3]) == {"openai-community/gpt2-medium", "openai-community/gpt2-large", "openai-community/gpt2-xl"}
    whisper = ids(bundled_engine.similar("openai/whisper-large-v2", k=6))
    sizes = ("large", "small", "base", "tiny", "medium", "large-v3", "large-v3-turbo")
    assert set(whisper[:5]) <= {f"openai/whisper-{s}" for s in sizes}


@pytest.mark.parametrize(
    ("model_id", "same_kind"),
    [
        ("Qwen/Qwen3-8B", lambda r: "qwen3" in r.id.lower() or r.pipeline_tag == "text-generation"),
        ("google/gemma-3-270m", lambda r: "gemma" in r.id.lower() or r.relation == "alternative"),
        ("hexgrad/Kokoro-82M", lambda r: r.pipeline_tag == "text-to-speech" or "kokoro" in r.id.lower()),
        ("amazon/chronos-2", lambda r: r.pipeline_tag == "time-series-forecasting"),
    ],
)
def test_2026_models_resolve_with_neighbours_of_their_kind(bundled_engine, model_id, same_kind):
    result = bundled_engine.similar(model_id, k=10)
    assert result.query == model_id and len(result.results) == 10
    assert sum(map(same_kind, result.results)) >= 8, [r.id for r in result.results]


def test_old_renames_still_resolve(bundled_engine):
    assert bundled_engine.resolve("gpt2") == "openai-community/gpt2"
    assert bundled_engine.resolve("bert-base-uncased") == "google-bert/bert-base-uncased"
    assert bundled_engine.resolve("THUDM/chatglm3-6b") == "zai-org/chatglm3-6b"  # an organisation the Hub renamed
    assert bundled_engine.info("gpt2")["history"].keys() == {"2023-04", "2024-09", "2026-06"}


def test_fits_in_8_gb_lists_sized_llms_and_counts_the_unknown(bundled_engine):
    from hfmrs.filters import Filters, params_limit_for_memory, quantized_limit_for_memory

    result = bundled_engine.similar("Qwen/Qwen3-8B", k=10, filters=Filters(fits_in_gb=8, dtype="fp16"))
    assert len(result.results) == 10 and result.unknown_size > 1000
    assert result.notes == [f"{result.unknown_size:,} models of unknown size left out by the size filter"]
    for r in result.results:
        payload = bundled_engine.info(r.id)
        assert r.params_billions is not None and r.params_source is not None
        if r.weight_format is None:
            assert payload["fp_params_billions"] <= params_limit_for_memory(8, "fp16")
        else:  # a quantized copy of an 8B model fits as GGUF/AWQ, not at fp16
            assert payload["quantized_weights_gb"] <= quantized_limit_for_memory(8)


def test_likes_sort_is_real_where_likes_exist(bundled_engine):
    result = bundled_engine.similar("gpt2", k=10, sort="likes")
    likes = [r.likes for r in result.results if r.likes is not None]
    assert likes == sorted(likes, reverse=True) and len(likes) >= 3
    assert all(r.likes is None for r in result.results[len(likes) :])  # the rest follow, in score order
    assert result.notes == [
        f"{len(likes)} of 10 results have likes (known for models in the 2026 snapshot or the Open LLM "
        "Leaderboard); the rest follow in score order"
    ]


# Queries whose first results once changed with k: a tie cut by Qdrant (bm25, jaccard), copies collapsed out
# of a short fetch (cosine), the room kept for alternatives sized by k (fused).
TIED = [
    "gpt2",
    "hf-internal-testing/tiny-random-IBertForTokenClassification",
    "modularai/llama-3.1",
    "shorya24/avatar-generator",
    "yodayo-ai/kivotos-xl-2.0",
]


@pytest.mark.parametrize("query", TIED)
def test_the_first_results_do_not_change_with_k(bundled_engine, query):
    for method in bundled_engine.methods:
        longest = [r.id for r in bundled_engine.similar(query, k=30, method=method).results]
        for j in (1, 2, 4, 5, 7):
            assert [r.id for r in bundled_engine.similar(query, k=j, method=method).results] == longest[:j], (method, j)
