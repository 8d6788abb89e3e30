"""Engine behaviour on the small catalog with the keyword encoder (exact, hand-checkable answers)."""

import pytest

from hfmrs.engine import K_MAX, SORTS, Engine
from hfmrs.filters import Filters
from hfmrs.ids import UnknownModelError


def ids(result):
    return [r.id for r in result.results]


def test_gpt2_family_first_and_alias_gives_same_answer(engine):
    by_alias = engine.similar("gpt2", k=5)
    by_id = engine.similar("openai-community/gpt2", k=5)
    assert by_alias.query == by_id.query == "openai-community/gpt2"
    assert ids(by_alias) == ids(by_id)
    top = set(ids(by_alias)[:4])
    assert top <= {
        "gpt2-medium",
        "openai-community/gpt2-large",
        "distilbert/distilgpt2",
        "acme/gpt2-finetuned",
        "acme/gpt2-gguf",
    }


@pytest.mark.parametrize("method", ["cosine", "jaccard"])
@pytest.mark.parametrize("query", ["gpt2", "openai-community/gpt2", "bert-base-uncased", "vision/vit-base"])
def test_never_the_query_or_its_alias(engine, method, query):
    result = engine.similar(query, k=K_MAX, method=method)
    canonical = engine.resolve(query)
    assert canonical not in ids(result)
    assert query not in ids(result)
    assert len(ids(result)) == len(set(ids(result)))


def test_jaccard_on_bert_returns_fill_mask_bert_models(engine):
    result = engine.similar("bert-base-uncased", k=3, method="jaccard")
    # The query has 11 tokens.  bert-base-cased (10 tokens) shares 9: 9/(11+10-9).  Habana's copy (6)
    # shares the name words and license: 4/(11+6-4).  broken-cells (7) shares task, type, dataset and
    # library: 4/(11+7-4).
    assert ids(result) == ["bert-base-cased", "Habana/bert-base-uncased", "acme/broken-cells"]
    assert [r.score for r in result.results] == pytest.approx([9 / 12, 4 / 13, 4 / 14], abs=1e-6)


def test_filters_are_pushed_down_and_k_results_come_back(engine):
    result = engine.similar("gpt2", k=2, filters=Filters(pipeline_tag="image-classification"))
    assert ids(result) == ["vision/vit-base", "vision/vit-large"]
    result = engine.similar("gpt2", k=3, filters=Filters(min_downloads=1_000_000))
    assert len(result.results) == 3 and all(r.downloads >= 1_000_000 for r in result.results)
    result = engine.similar("gpt2", k=10, filters=Filters(license="llama2"))
    assert ids(result) == ["meta/llama-7b"]
    result = engine.similar("gpt2", k=10, filters=Filters(library="gguf"))
    assert ids(result) == ["acme/gpt2-gguf"]
    result = engine.similar("gpt2", k=10, filters=Filters(pipeline_tag="no-such-task"))
    assert ids(result) == []


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_orders_the_same_top_k(engine, sort):
    base = engine.similar("gpt2", k=6)
    result = engine.similar("gpt2", k=6, sort=sort)
    assert set(ids(result)) == set(ids(base))
    rows = result.results
    if sort == "downloads-desc":
        assert [r.downloads for r in rows] == sorted((r.downloads for r in rows), reverse=True)
    elif sort == "downloads-asc":
        assert [r.downloads for r in rows] == sorted(r.downloads for r in rows)
    elif sort == "recent":
        stamps = [r.last_modified or "" for r in rows]
        assert stamps == sorted(stamps, reverse=True)
    elif sort == "score":
        assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)


def test_deterministic(engine):
    assert [ids(engine.similar("gpt2", k=8)) for _ in range(3)] == [ids(engine.similar("gpt2", k=8))] * 3


@pytest.mark.parametrize("k", [0, -1, K_MAX + 1, True])
def test_k_bounds(engine, k):
    with pytest.raises(ValueError, match="k must be"):
        engine.similar("gpt2", k=k)


def test_bad_method_and_sort(engine):
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        engine.similar("gpt2", method="nope")
    with pytest.raises(ValueError, match="unknown sort 'sideways'"):
        engine.similar("gpt2", sort="sideways")


def test_unknown_id_did_you_mean(engine):
    with pytest.raises(UnknownModelError) as info:
        engine.similar("gpt-2")
    assert "gpt2" in info.value.suggestions or "openai-community/gpt2" in info.value.suggestions
    with pytest.raises(ValueError, match="longer than 200"):
        engine.similar("x" * 201)


def test_why_explains_shared_evidence(engine):
    result = engine.similar("openai-community/gpt2", k=10)
    finetuned = next(r for r in result.results if r.id == "acme/gpt2-finetuned")
    assert "derived from openai-community/gpt2" in finetuned.why
    assert "same task: text-generation" in finetuned.why


def test_info_and_autocomplete(engine):
    info = engine.info("gpt2")
    assert info["id"] == "openai-community/gpt2" and info["aliases"] == ["gpt2"]
    top3 = ["openai-community/gpt2", "openai-community/gpt2-large", "gpt2-medium"]
    assert [m.id for m in engine.autocomplete("gpt2", 3)] == top3
    assert engine.autocomplete("google-bert/")[0].id == "google-bert/bert-base-uncased"


def test_known_facts_come_from_the_manifest_or_are_counted(engine):
    counted = engine.manifest["coverage"]
    assert engine.known_facts == {"models": 15, **counted}
    rows = [p.payload for p in engine.store.scroll(fields=["params_billions", "likes"])]
    assert counted == {
        "size": sum(r.get("params_billions") is not None for r in rows),
        "likes": sum(r.get("likes") is not None for r in rows),
    }
    older = Engine(
        engine.store, engine.ids, {k: v for k, v in engine.manifest.items() if k != "coverage"}, engine.settings
    )
    assert older.known_facts == engine.known_facts  # a build made before the manifest kept the counts
