"""`why`: the evidence a result shares with the query, strongest first, from the two payloads alone."""

from __future__ import annotations

from hfmrs.explain import MAX_REASONS, Explainer, why

QUERY = {
    "id": "org/base-model",
    "aliases": ["base-model"],
    "base_model_ids": ["meta/llama-7b"],
    "pipeline_tag": "text-generation",
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "datasets": ["c4", "wiki"],
    "library": "transformers",
    "languages": ["en", "de"],
    "arxiv": ["2302.13971"],
    "author": "org",
    "tags": ["conversational", "text-generation", "region:us", "en", "custom_code", "base_model:x"],
}


def test_a_child_sharing_everything_lists_lineage_first_and_stops_at_the_cap():
    child = {
        **QUERY,
        "id": "other/fine-tune",
        "aliases": [],
        "base_model_ids": ["base-model", "meta/llama-7b"],  # derived from the query by its legacy alias
    }
    reasons = why(QUERY, child)
    assert reasons == [
        "derived from org/base-model",
        "same base model: meta/llama-7b",
        "same task: text-generation",
        "same architecture: LlamaForCausalLM",
        "shared datasets: c4, wiki",
        "same library: transformers",
    ]
    assert len(reasons) == MAX_REASONS


def test_the_base_model_of_the_query_and_weaker_evidence():
    explain = Explainer(QUERY)
    parent = {"id": "meta/llama-7b", "aliases": [], "model_type": "llama", "languages": ["de"], "author": "meta"}
    assert explain(parent) == ["base model of org/base-model", "same model type: llama", "same language: de"]
    # noise tags (hosting, formats), structured tags and fields already named are never "shared tags"
    tagged = {"id": "x/y", "tags": ["conversational", "region:us", "en", "custom_code", "text-generation"]}
    assert explain(tagged) == ["shared tags: conversational"]
    assert explain({"id": "x/z", "author": "org", "arxiv": ["2302.13971"]}) == [
        "same paper: arxiv 2302.13971",
        "same author: org",
    ]


def test_nothing_shared_is_no_reason():
    assert why(QUERY, {"id": "x/unrelated", "pipeline_tag": "image-classification"}) == []
    assert why({"id": "q"}, {"id": "r"}) == []  # payloads without the optional fields
