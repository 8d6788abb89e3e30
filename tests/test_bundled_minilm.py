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


def test_default_bm25_on_known_models(bundled_engine):
    assert bundled_engine.default_method == "bm25"
    gpt2 = ids(bundled_engine.similar("gpt2", k=10))
    assert set(gpt2[:3]) == {"openai-community/gpt2-medium", "openai-community/gpt2-large", "openai-community/gpt2-xl"}
    whisper = ids(bundled_engine.similar("openai/whisper-large-v2", k=6))
    assert set(whisper[:5]) <= {f"openai/whisper-{s}" for s in ("large", "small", "base", "tiny", "medium", "large-v3")}
