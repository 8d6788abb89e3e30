"""The one recommender contract, checked on every method in METHODS (trained small catalog).

Known answers come from the synthetic catalog in conftest: the two ViT models are each other's
nearest model by every signal (name, task, dataset, license, family), the GPT-2 family shares the
query's name, task and architecture, and the BERT pair shares nearly every token.
"""

from __future__ import annotations

import pytest

from hfmrs.engine import K_MAX, Engine
from hfmrs.filters import Filters
from hfmrs.recommenders import METHODS
from tests.trained import shared_trained_settings

ALL = list(METHODS)
GPT2_FAMILY = {
    "gpt2-medium",
    "openai-community/gpt2-large",
    "distilbert/distilgpt2",
    "acme/gpt2-finetuned",
    "acme/gpt2-gguf",
}
MODELS = 15  # in the synthetic catalog
CHILD = "acme/gpt2-finetuned"


@pytest.fixture(scope="module")
def trained():
    engine = Engine.open(shared_trained_settings())
    yield engine
    engine.close()


def ids(result):
    return [r.id for r in result.results]


def test_every_method_is_served_by_a_trained_build(trained):
    assert trained.methods == ALL
    for name, rec in trained.recommenders.items():
        assert rec.name == name and rec.description


def test_untrained_build_hides_trained_methods(engine):
    assert engine.methods == ["cosine", "jaccard", "bm25", "fused"]  # fused reads the gnn only when trained
    with pytest.raises(ValueError, match="unknown method 'gnn'"):
        engine.similar("gpt2", method="gnn")


@pytest.mark.parametrize("method", ALL)
def test_known_answers(trained, method):
    assert ids(trained.similar("vision/vit-base", k=1, method=method)) == ["vision/vit-large"]
    assert set(ids(trained.similar("gpt2", k=3, method=method))) <= GPT2_FAMILY
    assert "bert-base-cased" in ids(trained.similar("bert-base-uncased", k=2, method=method))


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("query", ["gpt2", "openai-community/gpt2", "bert-base-uncased", "acme/empty"])
def test_no_self_match_no_duplicates(trained, method, query):
    result = trained.similar(query, k=K_MAX, method=method)
    canonical = trained.resolve(query)
    assert result.query == canonical and result.method == method
    assert canonical not in ids(result) and query not in ids(result)
    assert len(ids(result)) == len(set(ids(result)))


FILTERS = [
    Filters(pipeline_tag="image-classification"),
    Filters(min_downloads=1_000_000),
    Filters(license="llama2"),
    Filters(library="gguf"),
    Filters(author="acme"),
    Filters(pipeline_tag="no-such-task"),
]


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: repr(f.values))
def test_filters_hold_for_every_result(trained, method, filters):
    result = trained.similar("gpt2", k=10, method=method, filters=filters)
    for r in result.results:
        assert filters.matches(trained.info(r.id)), r.id
    matching = trained.store.count(filters.with_exclude("openai-community/gpt2"))
    assert len(result.results) <= min(10, matching)
    if method not in ("bm25", "jaccard"):  # dense methods reach every model; sparse ones need a shared token
        assert len(result.results) == min(10, matching)


@pytest.mark.parametrize("method", ["cosine", "kmeans", "gnn", "hybrid"])
def test_filtered_searches_return_k_when_k_match(trained, method):
    # pushed down into Qdrant: filtering happens before the top-k cut, so k come back
    result = trained.similar("gpt2", k=3, method=method, filters=Filters(min_downloads=1_000_000))
    assert len(result.results) == 3 and all(r.downloads >= 1_000_000 for r in result.results)


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("k", [1, 3, K_MAX])
def test_k_bounds(trained, method, k):
    got = len(trained.similar("distilgpt2", k=k, method=method, collapse=False).results)
    assert 1 <= got <= min(k, MODELS - 1)
    if method in ("cosine", "kmeans", "gnn"):  # every model has these vectors: always k (or all)
        assert got == min(k, MODELS - 1)


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("k", [0, K_MAX + 1, -3, True])
def test_k_out_of_bounds_rejected(trained, method, k):
    with pytest.raises(ValueError, match="k must be"):
        trained.similar("gpt2", k=k, method=method)


@pytest.mark.parametrize("method", ALL)
def test_deterministic(trained, method):
    first = trained.similar("bert-base-uncased", k=8, method=method)
    for _ in range(3):
        again = trained.similar("bert-base-uncased", k=8, method=method)
        assert [(r.id, r.score) for r in again.results] == [(r.id, r.score) for r in first.results]
    reopened = Engine.open(trained.settings)
    try:
        assert ids(reopened.similar("bert-base-uncased", k=8, method=method)) == ids(first)
    finally:
        reopened.close()


@pytest.mark.parametrize("method", ALL)
def test_why_is_computed_for_every_method(trained, method):
    result = trained.similar("openai-community/gpt2", k=K_MAX, method=method)
    assert all(r.why for r in result.results if r.id in GPT2_FAMILY)
    finetuned = next(r for r in result.results if r.id == "acme/gpt2-finetuned")
    assert "derived from openai-community/gpt2" in finetuned.why
    assert "same task: text-generation" in finetuned.why
    # siblings: two children of the same base model say so
    sibling = next(r for r in trained.similar("acme/gpt2-gguf", k=K_MAX, method=method).results if r.id == CHILD)
    assert "same base model: openai-community/gpt2" in sibling.why


@pytest.mark.parametrize("method", ALL)
def test_diversity_options_work_for_every_method(trained, method):
    plain = trained.similar("gpt2", k=5, method=method)
    # MMR with λ = 1 is the method's own ranking
    assert ids(trained.similar("gpt2", k=5, method=method, diversity=1.0)) == ids(plain)
    capped = trained.similar("vision/vit-base", k=6, method=method, per_author=1)
    authors = [trained.info(r.id)["author"] or r.id.split("/")[0] for r in capped.results if "/" in r.id]
    assert authors and len(authors) == len(set(authors))
    diverse = trained.similar("gpt2", k=5, method=method, diversity=0.0)
    assert len(diverse.results) == 5 and len(set(ids(diverse))) == 5


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("query", ["gpt2", "bert-base-uncased", "vision/vit-base", "acme/gpt2-gguf"])
def test_the_first_results_do_not_change_with_k(trained, method, query):
    longest = ids(trained.similar(query, k=30, method=method))
    for j in (1, 2, 3, 5, 10):
        assert ids(trained.similar(query, k=j, method=method)) == longest[:j], j


@pytest.mark.parametrize("method", ALL)
def test_match_is_a_0_to_100_reading_of_the_score(trained, method):
    results = trained.similar("gpt2", k=10, method=method).results
    matches = [r.match for r in results]
    assert all(0 <= m <= 100 for m in matches) and matches == sorted(matches, reverse=True)
    if trained.recommenders[method].bounded_score:
        assert matches == [round(100 * max(r.score, 0)) for r in results]
    else:
        assert matches[0] == 100  # relative to the list's best
    by_downloads = trained.similar("gpt2", k=10, method=method, sort="downloads-desc").results
    assert {r.id: r.match for r in by_downloads} == {r.id: r.match for r in results}  # a sort keeps matches
