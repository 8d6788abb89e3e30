"""Diversity: MMR re-ranking and the per-author cap, as a function and through the engine."""

from __future__ import annotations

import pytest

from hfmrs.diversity import author_of, diversify
from hfmrs.engine import Engine
from hfmrs.store.base import Hit
from tests.trained import shared_trained_settings


@pytest.fixture(scope="module")
def engine():
    eng = Engine.open(shared_trained_settings())
    yield eng
    eng.close()


def hit(model_id: str, score: float, author: str | None = None) -> Hit:
    return Hit(model_id, score, {"id": model_id, "author": author})


def ids(hits):
    return [h.model_id for h in hits]


def test_per_author_cap_keeps_order_and_fills_k():
    hits = [hit(f"a/m{i}", 1 - i / 100, "a") for i in range(5)] + [hit("b/x", 0.5, "b"), hit("c/y", 0.4, "c")]
    assert ids(diversify(hits, 4, per_author=2)) == ["a/m0", "a/m1", "b/x", "c/y"]
    assert ids(diversify(hits, 2, per_author=1)) == ["a/m0", "b/x"]
    assert ids(diversify(hits, 3)) == ["a/m0", "a/m1", "a/m2"]  # no cap, no MMR: a plain cut


def test_author_falls_back_to_namespace_and_legacy_ids_are_never_capped():
    assert author_of(hit("org/model", 1.0)) == "org"
    assert author_of(hit("gpt2", 1.0)) is None
    legacy = [hit("gpt2", 0.9), hit("gpt2-medium", 0.8), hit("distilgpt2", 0.7)]
    assert ids(diversify(legacy, 3, per_author=1)) == ["gpt2", "gpt2-medium", "distilgpt2"]


def test_mmr_skips_near_copies():
    hits = [hit("a/one", 1.0, "a"), hit("a/copy", 0.99, "a"), hit("b/other", 0.9, "b"), hit("c/far", 0.1, "c")]
    vectors = {"a/one": [1.0, 0.0], "a/copy": [1.0, 0.001], "b/other": [0.0, 1.0], "c/far": [-1.0, 0.0]}
    assert ids(diversify(hits, 3, mmr_lambda=1.0, vectors=vectors)) == ["a/one", "a/copy", "b/other"]
    diverse = diversify(hits, 3, mmr_lambda=0.5, vectors=vectors)
    assert ids(diverse)[:2] == ["a/one", "b/other"]
    assert "a/copy" not in ids(diverse)[:2]
    # scores are the method's, untouched
    assert [h.score for h in diverse][:2] == [1.0, 0.9]
    # MMR and the cap together
    assert ids(diversify(hits, 3, mmr_lambda=1.0, per_author=1, vectors=vectors)) == ["a/one", "b/other", "c/far"]


def test_mmr_is_deterministic_under_ties():
    hits = [hit(f"x/{i}", 1.0, str(i)) for i in range(6)]
    vectors = {h.model_id: [1.0, 0.0] for h in hits}
    runs = {tuple(ids(diversify(hits, 4, mmr_lambda=0.3, vectors=vectors))) for _ in range(5)}
    assert runs == {("x/0", "x/1", "x/2", "x/3")}


def test_mmr_without_vectors_and_empty_input():
    hits = [hit("a/1", 0.9, "a"), hit("b/2", 0.8, "b")]
    assert ids(diversify(hits, 5, mmr_lambda=0.5, vectors={})) == ["a/1", "b/2"]
    assert diversify([], 5, mmr_lambda=0.5) == []


def test_engine_per_author_and_mmr(engine):
    plain = [r.id for r in engine.similar("gpt2", k=5).results]
    assert {"acme/gpt2-finetuned", "acme/gpt2-gguf"} <= set(plain)  # two acme near-copies
    capped = [r.id for r in engine.similar("gpt2", k=5, per_author=1).results]
    assert len(capped) == 5
    assert sum(m.startswith("acme/") for m in capped) == 1
    # The keyword encoder gives the whole GPT-2 family the same vector: MMR must reach past it.
    diverse = [r.id for r in engine.similar("gpt2", k=3, diversity=0.3).results]
    assert sum("gpt2" in m for m in diverse) == 1
    assert [r.id for r in engine.similar("gpt2", k=5, diversity=1.0).results] == plain


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"diversity": 1.5}, "diversity must be"),
        ({"diversity": -0.1}, "diversity must be"),
        ({"diversity": True}, "diversity must be"),
        ({"per_author": 0}, "per_author must be"),
        ({"per_author": 1.5}, "per_author must be"),
    ],
)
def test_engine_rejects_bad_diversity_arguments(engine, kwargs, message):
    with pytest.raises(ValueError, match=message):
        engine.similar("gpt2", k=3, **kwargs)
