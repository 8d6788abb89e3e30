"""Result cards: sections keep the overall ranks, numbers read as people write them, untrusted text is
escaped and links only ever point at the Hub."""

from __future__ import annotations

import re

from services.ui import cards

RESULT = {
    "id": "openai-community/gpt2-large",
    "score": 21.105,
    "match": 87,
    "downloads": 1_271_959,
    "likes": 3_100,
    "pipeline_tag": "text-generation",
    "library": "transformers",
    "license": "mit",
    "params_billions": 0.812,
    "params_source": "safetensors",
    "last_modified": "2024-02-19T10:57:45+00:00",
    "why": ["same task: text-generation", "same base model: openai-community/gpt2"],
    "relation": "family",
    "variants": ["TheBloke/gpt2-large-GGUF"],
}


def test_a_card_shows_what_a_reader_needs():
    card = cards.card(RESULT, 1, "bm25")
    assert '<a class="hf-id" href="https://huggingface.co/openai-community/gpt2-large"' in card
    assert '<span title="1,271,959 downloads">1.3M ↓</span>' in card and "3.1k ♥" in card
    assert 'aria-valuenow="87"' in card and 'style="width:87%"' in card and "bm25 score 21.1" in card
    assert ">812M<" in card and ">mit<" in card and "updated 2024-02-19" in card
    assert "<summary>same task: text-generation (+1 more)</summary>" in card  # the rest on demand
    assert "1 copy grouped here" in card and "TheBloke/gpt2-large-GGUF" in card


def test_unknown_facts_are_left_out_not_shown_as_zero():
    card = cards.card({"id": "a/b", "score": 0.5, "match": 50, "likes": None, "downloads": 0}, 1, "cosine")
    assert "♥" not in card and "0 ↓" in card and "hf-why" not in card and "hf-variants" not in card


def test_sections_keep_the_overall_ranks():
    results = [
        {**RESULT, "id": "a/alt", "relation": "alternative"},
        {**RESULT, "id": "b/fam", "relation": "family"},
        {**RESULT, "id": "c/alt", "relation": "alternative"},
    ]
    html = cards.cards_html(results, "fused")
    family, alternatives = html.index('data-relation="family"'), html.index('data-relation="alternative"')
    assert family < alternatives
    ranked = re.findall(r'data-id="([^"]+)"><div class="hf-head"><span class="hf-rank">(\d+)<', html)
    assert ranked == [("b/fam", "2"), ("a/alt", "1"), ("c/alt", "3")]
    one_list = cards.cards_html(results, "fused", sections=False)
    assert "hf-section" not in one_list and [i for i, _ in re.findall(r'data-id="([^"]+)"()', one_list)][:1] == [
        "a/alt"
    ]


def test_untrusted_text_is_escaped_and_links_stay_on_the_hub():
    evil = '"><script>alert(1)</script><a href="javascript:x'
    html = cards.cards_html([{**RESULT, "id": evil, "why": [evil], "variants": [evil], "license": evil}], evil)
    assert "<script>" not in html and 'href="javascript' not in html
    assert all(href.startswith("https://huggingface.co/") for href in re.findall(r'href="([^"]*)"', html))
    query = cards.query_card({"id": evil, "base_model_ids": [evil], "leaderboard": {"average": 1.0, "as_of": evil}})
    assert "<script>" not in query


def test_plural():
    assert cards.plural(1, "model") == "1 model" and cards.plural(1200, "model") == "1,200 models"
    assert cards.plural(2, "copy", "copies") == "2 copies"
