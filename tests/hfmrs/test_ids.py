"""The id index: exact, alias and case-insensitive look-ups, prefixes, suggestions, and its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfmrs.ids import IdIndex, UnknownModelError

ALIASES = {
    "openai-community/gpt2": ["gpt2"],
    "openai-community/gpt2-medium": ["gpt2-medium"],
    "distilbert/distilgpt2": ["distilgpt2"],
    "google-bert/bert-base-uncased": ["bert-base-uncased"],
    "Acme/GPT2": [],
    "acme/gpt2-finetuned": [],
    "vision/vit-base": [],
    "vision/vit-large": [],
    "solo": [],
    "ünï/cödé": [],
}
DOWNLOADS = {
    "openai-community/gpt2": 9_000,
    "openai-community/gpt2-medium": 500,
    "distilbert/distilgpt2": 3_000,
    "google-bert/bert-base-uncased": 8_000,
    "Acme/GPT2": 5,
    "acme/gpt2-finetuned": 7,
    "vision/vit-base": 100,
    "vision/vit-large": 100,
    "solo": 1,
    "ünï/cödé": 2,
}


@pytest.fixture(params=["memory", "loaded"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> IdIndex:
    built = IdIndex(ALIASES, DOWNLOADS)
    if request.param == "memory":
        return built
    built.save(tmp_path / "id_index")
    return IdIndex.load(tmp_path / "id_index")


def test_exact_alias_and_case_insensitive_lookups(index: IdIndex):
    assert len(index) == len(ALIASES)
    assert index.find("openai-community/gpt2") == "openai-community/gpt2"
    assert index.find("gpt2") == "openai-community/gpt2"  # legacy alias
    assert index.find(" /gpt2/ ") == "openai-community/gpt2"  # stray slashes and spaces
    assert index.find("DistilGPT2") == "distilbert/distilgpt2"  # alias, another case
    assert index.find("Acme/GPT2") == "Acme/GPT2"  # exact beats case-insensitive
    assert index.find("acme/gpt2") == "Acme/GPT2"
    assert index.find("ÜNÏ/CÖDÉ") == "ünï/cödé"
    assert index.find("solo") == "solo"


@pytest.mark.parametrize("junk", ["gpt2\x00", "\x00", "x" * 500, "gpt", "openai-community/gpt2-", "\ud800", ""])
def test_unknown_or_malformed_ids_are_not_found(index: IdIndex, junk: str):
    assert index.find(junk) is None


def test_resolve_raises_with_suggestions(index: IdIndex):
    assert index.resolve("gpt2") == "openai-community/gpt2"
    with pytest.raises(UnknownModelError) as info:
        index.resolve("gpt2-mediun")
    assert info.value.suggestions[0] == "gpt2-medium"
    assert len(info.value.suggestions) == 5
    assert index.suggest("   ") == []


def test_prefix_matches_ids_aliases_and_name_parts_most_downloaded_first(index: IdIndex):
    assert index.prefix("gpt2") == [
        "openai-community/gpt2",  # alias gpt2, 9,000 downloads
        "openai-community/gpt2-medium",  # alias gpt2-medium
        "acme/gpt2-finetuned",  # name part
        "Acme/GPT2",  # name part, case-insensitive
    ]
    assert index.prefix("vision/") == ["vision/vit-base", "vision/vit-large"]  # tie: by id
    assert index.prefix("VISION/VIT-L") == ["vision/vit-large"]
    assert index.prefix("distil", limit=1) == ["distilbert/distilgpt2"]
    assert index.prefix("zzz") == []
    assert index.prefix("a\x00") == []
    assert index.prefix("") == index.most_downloaded(10)
    assert index.most_downloaded(3) == [
        "openai-community/gpt2",
        "google-bert/bert-base-uncased",
        "distilbert/distilgpt2",
    ]


def test_downloads_and_iteration(index: IdIndex):
    assert index.downloads_of("distilbert/distilgpt2") == 3_000
    assert index.downloads_of("distilgpt2") == 0  # aliases are not rows
    assert index.downloads_of("nope") == 0
    assert list(index) == sorted(ALIASES)


def test_save_replaces_an_older_index(tmp_path: Path):
    target = tmp_path / "id_index"
    IdIndex({"a/old": []}, {"a/old": 1}).save(target)
    IdIndex(ALIASES, DOWNLOADS).save(target)
    loaded = IdIndex.load(target)
    assert loaded.find("a/old") is None and loaded.find("gpt2") == "openai-community/gpt2"
    assert not (tmp_path / "id_index.tmp").exists()


def test_empty_index():
    index = IdIndex({}, {})
    assert len(index) == 0 and index.find("gpt2") is None
    assert index.prefix("g") == [] and index.prefix("") == [] and index.suggest("gpt2") == []


def test_suggestions_past_the_pool_still_find_the_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # 600 names, pool of 20: the first pass must keep the right names for WRatio to rank.  A typo'd
    # bare name finds the owner-prefixed model through its name part; a typo'd alias through itself.
    import hfmrs.ids as ids

    monkeypatch.setattr(ids, "SUGGEST_POOL", 20)
    aliases: dict[str, list[str]] = {f"org{i}/distilbert-base-uncased-finetuned-{i}": [] for i in range(300)}
    aliases |= {f"lab{i}/vit-{i}-patch16": [] for i in range(298)}
    aliases["google-bert/bert-base-uncased"] = ["bert-base-uncased"]
    aliases["openai-community/gpt2-medium"] = ["gpt2-medium"]
    aliases |= {f"roberta-{i}": [] for i in range(100)}  # closer than the model by plain ratio, not by WRatio
    aliases["a-very-long-organisation-name/roberta-large-xy"] = []
    built = IdIndex(aliases, {m: i for i, m in enumerate(aliases)})
    built.save(tmp_path / "id_index")
    for index in (built, IdIndex.load(tmp_path / "id_index")):
        assert index.suggest("bert-base-uncasd")[0] == "bert-base-uncased"
        assert "google-bert/bert-base-uncased" in index.suggest("google-bert/bert-base-uncasd")[:2]
        assert index.suggest("gpt2-mediun")[0] == "gpt2-medium"
        assert index.suggest("GPT2-MEDIUN")[0] == "gpt2-medium"
        assert index.suggest("roberta-large-xy")[0] == "a-very-long-organisation-name/roberta-large-xy"


def test_small_indexes_rank_every_name_with_wratio(index: IdIndex):
    from rapidfuzz import fuzz

    names = [n for m, a in ALIASES.items() for n in [m, *a]]
    for query in ("gpt2-mediun", "BERT", "llama"):
        best = max(fuzz.WRatio(query.lower(), n.lower()) for n in names)
        got = index.suggest(query)
        assert fuzz.WRatio(query.lower(), got[0].lower()) == best


def test_suggestions_are_computed_when_read_and_remembered_for_repeated_misses(monkeypatch):
    index = IdIndex({"openai-community/gpt2": ["gpt2"], "google-bert/bert-base-uncased": []}, {})
    calls: list[str] = []
    real = index._suggest
    monkeypatch.setattr(index, "_suggest", lambda query, limit: calls.append(query) or real(query, limit))
    with pytest.raises(UnknownModelError) as missed:
        index.resolve("gpt-2")
    assert calls == []  # nobody read them yet: no fuzzy search
    assert "gpt2" in missed.value.suggestions and calls == ["gpt-2"]
    assert missed.value.suggestions and calls == ["gpt-2"]  # once per error
    assert index.suggest("GPT-2 ") == missed.value.suggestions and calls == ["gpt-2"]  # the LRU answers


def test_suggestions_name_each_model_once_and_popular_ones_win_equal_matches():
    # Any name that contains the query scores 90 with WRatio: twenty fine-tunes tie with the original,
    # and the original (most downloaded) must come first, not whichever tied names came first.
    aliases: dict[str, list[str]] = {f"fan{i}/Llama-3-8b-tuned-{i}": [] for i in range(20)}
    aliases["meta-llama/Meta-Llama-3-8B"] = ["llama-3-8b-original"]
    aliases["openai-community/gpt2-medium"] = ["gpt2-medium"]
    downloads = {m: 10 + i for i, m in enumerate(aliases)} | {"meta-llama/Meta-Llama-3-8B": 1_000_000}
    index = IdIndex(aliases, downloads)
    found = index.suggest("llama-3-8b")
    assert found[0] in ("meta-llama/Meta-Llama-3-8B", "llama-3-8b-original")
    assert "meta-llama/Meta-Llama-3-8B" not in found[1:] and "llama-3-8b-original" not in found[1:]
    assert len(found) == 5
    # a legacy alias and its canonical id are one model: named once, by the name closer to the query
    medium = index.suggest("gpt2-mediun")
    assert medium[0] == "gpt2-medium" and "openai-community/gpt2-medium" not in medium
