"""The web UI's handlers against a live recommender on 127.0.0.1 (the small test catalog)."""

from __future__ import annotations

import re

import pytest

from services.clients import RecommenderClient
from services.ui import cards, handlers
from tests.services.ui.conftest import Stack

GPT2_FAMILY = {
    "distilbert/distilgpt2",
    "openai-community/gpt2-large",
    "gpt2-medium",
    "acme/gpt2-finetuned",
    "acme/gpt2-gguf",
}


def test_known_id_gets_the_gpt2_family(client: RecommenderClient):
    result = handlers.recommend(client, "openai-community/gpt2", k=5)
    assert result.query == "openai-community/gpt2"
    assert set(result.ids) == GPT2_FAMILY
    assert "5 models similar to" in result.message and "**cosine**" in result.message
    # the cards: the query model's facts first, then one card per result in the API's order
    assert result.html.index('class="hf-query" data-id="openai-community/gpt2"') < result.html.index(
        '<li class="hf-card'
    )
    ranked = re.findall(
        r'<li class="hf-card[^"]*" data-id="([^"]+)"><div class="hf-head"><span class="hf-rank">(\d+)<', result.html
    )
    assert [i for i, _ in sorted(ranked, key=lambda card: int(card[1]))] == result.ids  # sections keep the ranks
    first = result.results[0]
    assert f'href="https://huggingface.co/{first["id"]}"' in result.html
    assert f'aria-valuenow="{first["match"]}"' in result.html and "same task: text-generation" in result.html


def test_legacy_ids_resolve(client: RecommenderClient):
    result = handlers.recommend(client, "bert-base-uncased", k=3)
    assert result.query == "google-bert/bert-base-uncased"
    assert result.ids[0] == "bert-base-cased"
    assert "asked for bert-base-uncased" in result.message


def test_every_method_the_api_offers_is_offered(client: RecommenderClient):
    choices, default, problem = handlers.method_choices(client)
    names = [name for _, name in choices]
    assert problem == "" and default == "cosine"
    assert names == [m["name"] for m in client.get("/v1/methods")]
    for name in names:
        assert handlers.recommend(client, "gpt2", name, k=2).results


def test_filters_are_applied(client: RecommenderClient):
    vision = handlers.recommend(client, "gpt2", k=5, filters={"pipeline_tag": "image-classification"})
    assert vision.ids == ["vision/vit-base", "vision/vit-large"]
    assert handlers.recommend(client, "gpt2", k=10, filters={"license": "llama2"}).ids == ["meta/llama-7b"]
    assert handlers.recommend(client, "gpt2", k=3, filters={"library": "gguf"}).ids == ["acme/gpt2-gguf"]
    popular = handlers.recommend(client, "gpt2", k=10, filters={"min_downloads": 1_000_000})
    assert popular.results and min(r["downloads"] for r in popular.results) >= 1_000_000
    blank = {"pipeline_tag": " ", "library": "", "license": None, "min_downloads": 0, "fits_in_gb": "any"}
    assert handlers.filter_params(blank) == {}  # blank filters mean "any"


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [("downloads-desc", "downloads", True), ("downloads-asc", "downloads", False), ("recent", "last_modified", True)],
)
def test_sort_order(client: RecommenderClient, sort: str, key: str, descending: bool):
    result = handlers.recommend(client, "gpt2", k=8, sort=sort)
    missing = "" if key == "last_modified" else 0  # a model with 0 downloads must not become ""
    values = [missing if r[key] is None else r[key] for r in result.results]
    assert len(values) == 8 and values == sorted(values, reverse=descending)
    assert set(result.ids) == set(handlers.recommend(client, "gpt2", k=8).ids)  # same top k, reordered


def test_unknown_id_suggests_models(client: RecommenderClient):
    result = handlers.recommend(client, "gpt2-mediun")
    assert result.html == "" and result.results == []
    assert result.message == "Unknown model 'gpt2-mediun'. Did you mean: gpt2-medium, gpt2, acme/gpt2-finetuned?"
    assert result.suggestions == ["gpt2-medium", "gpt2", "acme/gpt2-finetuned"]  # to click
    assert handlers.recommend(client, "gpt2", method="nope").suggestions == []


def test_api_down_is_a_friendly_message(down_client: RecommenderClient):
    url = str(down_client.client.base_url).rstrip("/")
    for message in (
        handlers.recommend(down_client, "gpt2").message,
        handlers.describe(down_client, "speech").message,
        handlers.compare(down_client, "gpt2", "cosine", "jaccard").message,
        handlers.explore(down_client, "gpt2").message,
        handlers.about(down_client).message,
        handlers.method_choices(down_client)[2],
    ):
        assert message.startswith("⚠️ The recommender API is unreachable at " + url), message
    assert handlers.suggest_models(down_client, "gpt") == []  # the picker still accepts typed ids


def test_empty_states(client: RecommenderClient):
    assert handlers.recommend(client, "  ").message == handlers.EMPTY_PICK
    none = handlers.recommend(client, "gpt2", filters={"pipeline_tag": "no-such-task"})
    assert none.results == [] and none.message == (
        "No models similar to [openai-community/gpt2](https://huggingface.co/openai-community/gpt2) (asked for "
        "gpt2) by **cosine** with these filters (task: no-such-task). Loosen a filter and try again."
    )
    assert 'class="hf-query"' in none.html  # the query model's facts still show
    assert "Describe what you need" in handlers.describe(client, "").message
    assert handlers.compare(client, "", "cosine", "jaccard").message == handlers.EMPTY_PICK
    assert "k must be" not in handlers.recommend(client, "gpt2", k=500).message  # clamped to 30, not an error


def test_bad_parameter_is_reported_not_raised(client: RecommenderClient):
    message = handlers.recommend(client, "gpt2", method="no-such-method").message
    assert message.startswith("The recommender rejected the request: unknown method")


def test_describe_what_you_need(client: RecommenderClient):
    result = handlers.describe(client, "image classification vit", k=2)
    assert result.ids == ["vision/vit-base", "vision/vit-large"]
    assert handlers.describe(client, "speech", k=1, filters={"pipeline_tag": "fill-mask"}).ids != [
        "acme/wav2vec2-speech"
    ]


def test_type_ahead(client: RecommenderClient):
    assert handlers.suggest_models(client, "vision/") == ["vision/vit-base", "vision/vit-large"]
    assert handlers.suggest_models(client, "") == []


def test_compare_two_methods(client: RecommenderClient):
    result = handlers.compare(client, "gpt2", "cosine", "jaccard", k=5)
    assert result.html_a.count("hf-card hf-shared") == result.html_b.count("hf-card hf-shared") == 5
    assert set(result.ids_a) == set(result.ids_b) == GPT2_FAMILY
    assert len(result.overlap) == 5
    assert "share 5 of their top 5" in result.message and "Jaccard overlap 1.00" in result.message
    vision = handlers.compare(client, "vision/vit-base", "cosine", "bm25", k=3)
    shared = set(vision.ids_a) & set(vision.ids_b)
    assert vision.overlap == [i for i in vision.ids_a if i in shared]
    assert f"share {len(shared)} of their top 3" in vision.message


def test_explore_highlights_the_model_and_its_neighbours(client: RecommenderClient):
    result = handlers.explore(client, "gpt2", k=5, color_by="task")
    assert result.highlighted[0] == "openai-community/gpt2" and set(result.highlighted[1:]) == GPT2_FAMILY
    assert {p["id"] for p in result.points} >= set(result.highlighted)
    names = [trace.name for trace in result.figure.data]
    assert names[-2:] == ["neighbours", "openai-community/gpt2"]
    assert "text-generation" in names and "image-classification" in names
    colours = [trace.marker.color for trace in result.figure.data[:-2] if trace.name != "other"]
    assert len(colours) == len(set(colours))  # no two groups share a colour
    small = handlers.explore(client, "gpt2", k=5, limit=7)
    assert len(small.points) == 7 and set(small.highlighted) <= {p["id"] for p in small.points}
    clusters = handlers.explore(client, None, color_by="cluster")
    assert "no k-means clusters" in clusters.message and "Pick a model" in clusters.message
    assert handlers.explore(client, "nope-nope").message.startswith("Unknown model 'nope-nope'")


def test_about_the_data(client: RecommenderClient, stack: Stack):
    info = handlers.about(client, stack.reports_dir)
    assert "**Models**: 15" in info.message and "**Snapshots**: 2023-04, 2024-09" in info.message
    assert "**cosine** (default)" in info.message
    assert info.images == [str(stack.reports_dir / "downloads.png")]
    assert info.known["models"] == 15 and 0 < info.known["size"] < 15  # /health's coverage, read once
    assert "No report yet" in handlers.about(client, stack.reports_dir / "missing").message


@pytest.mark.parametrize(
    "evil",
    ["<script>alert(1)</script>", "[x](javascript:alert(1))", "a/b?c#d", "'><img src=x onerror=alert(1)>"],
)
def test_untrusted_text_is_escaped(client: RecommenderClient, evil: str):
    message = handlers.recommend(client, evil).message
    assert "<" not in message and "](" not in message and message.startswith("Unknown model")
    link = handlers.model_link(evil)
    assert "<" not in link and link.count("](") == 1 and " " not in link.split("](")[1]
    assert "?" not in handlers.hub_url(evil) and "#" not in handlers.hub_url(evil)
    card = cards.card({"id": evil, "why": [evil, evil], "variants": [evil], "pipeline_tag": evil}, 1, evil)
    assert "<script" not in card and "<img" not in card
    assert card.count("<a ") == 2 and all(h.startswith('"https://huggingface.co/') for h in card.split("href=")[1:])


def test_ids_cannot_leave_the_route():
    assert handlers.api_path("../../admin/reload") == "/v1/models/%2E%2E/%2E%2E/admin/reload"
    assert handlers.api_path("openai-community/gpt2", "/similar") == "/v1/models/openai-community/gpt2/similar"
    assert handlers.api_path("a?b#c") == "/v1/models/a%3Fb%23c"


def test_sizes_facts_and_what_the_size_filter_left_out(client: RecommenderClient):
    # gpt2 and distilgpt2 have exact sizes in the bundled size list; the GGUF copy inherits gpt2's;
    # llama-7b is sized by its name (too big for 1 GB); acme/empty cannot be sized at all.
    result = handlers.recommend(client, "gpt2", k=30, filters={"fits_in_gb": "1", "dtype": "fp16"})
    sizes = {r["id"]: cards.size_text(r) for r in result.results}
    assert sizes["distilbert/distilgpt2"] == "88.2M" and sizes["acme/gpt2-gguf"] == "~137M GGUF"
    assert sizes["gpt2-medium"] == "~355M"  # the gpt2 family's "medium"
    assert "meta/llama-7b" not in sizes and "acme/empty" not in sizes
    assert '<span title="parameters: exact, from a size list">137M</span>' in result.html  # the query's facts
    assert "ℹ️ 1 model of unknown size left out by the size filter" in result.message
    assert "filters: fits in 1 GB" in result.message  # the status names the active filters
    for model_id, size in sizes.items():
        assert re.search(
            f'data-id="{re.escape(model_id)}".*?<span title="parameters: [^"]+">{re.escape(size)}<', result.html
        )
    likes = handlers.recommend(client, "gpt2", k=3, sort="likes")
    assert "results have likes" in likes.message or "none of these results has likes" in likes.message


def test_fits_in_memory_choice_becomes_api_parameters():
    from services.ui import handlers

    assert handlers.filter_params({"fits_in_gb": "24", "dtype": "fp16"}) == {"fits_in_gb": 24.0}  # fp16: the default
    assert handlers.filter_params({"fits_in_gb": "8", "dtype": "int8"}) == {"fits_in_gb": 8.0, "dtype": "int8"}
    assert handlers.filter_params({"fits_in_gb": handlers.ANY}) == {}
    assert handlers.filter_params({"fits_in_gb": "lots"}) == {}


def test_describe_shows_what_it_understood_as_removable_chips(client: RecommenderClient):
    result = handlers.describe(client, "speech recognition under 1B parameters in German", k=3)
    assert result.understood["tasks"] == ["automatic-speech-recognition"]
    chips = handlers.understood_chips(result.understood)
    assert chips == [
        ("task: automatic-speech-recognition", "tasks"),
        ("language: de", "languages"),
        ("at most (billion parameters): 1.0", "max_params_billions"),
    ]
    fewer = handlers.describe(client, "speech recognition under 1B parameters in German", ignore=["languages", "tasks"])
    assert set(fewer.understood) == {"max_params_billions"}
    assert handlers.understood_chips({"commercial": True, "size": "small"}) == [
        ("commercial use", "commercial"),
        ("prefers small models", "size"),
    ]
