from pathlib import Path

import pytest

from hfmrs.catalog import BaseModel, load_catalog, parse_list_cell, parse_timestamp
from hfmrs.ids import UnknownModelError


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (None, []),
        ("", []),
        ("   ", []),
        ("[]", []),
        ("['a', 'b', 'a']", ["a", "b"]),
        ("['a', ''", []),  # truncated literal: no crash, nothing invented
        ("wikipedia", ["wikipedia"]),  # a bare string cell, as the 2023 snapshot has
        ("__import__('os').system('echo hi')", ["__import__('os').system('echo hi')"]),  # never evaluated
    ],
)
def test_parse_list_cell(cell, expected):
    assert parse_list_cell(cell) == expected


def test_timestamps_of_both_snapshots_normalise_to_utc():
    assert parse_timestamp("2023-03-25T10:56:55.000Z") == "2023-03-25T10:56:55Z"
    assert parse_timestamp("2024-02-19 10:57:45+00:00") == "2024-02-19T10:57:45Z"
    assert parse_timestamp("not a date") is None


def test_merge_counts_and_newest_wins(snapshot_dir: Path):
    catalog = load_catalog(snapshot_dir)
    # 8 + 10 rows; gpt2, distilgpt2, bert-base-uncased are renamed copies of 2024 rows
    assert len(catalog) == 15
    gpt2 = catalog.get("openai-community/gpt2")
    assert gpt2.snapshot == "2024-09"
    assert gpt2.downloads == 7_800_000
    # the 2024 file has no architectures column: kept from the 2023 record of the same model
    assert gpt2.architectures == ["GPT2LMHeadModel"]
    assert gpt2.model_type == "gpt2"
    assert gpt2.license == "mit"
    assert gpt2.languages == ["en"]


def test_aliases_resolve_both_ways(snapshot_dir: Path):
    catalog = load_catalog(snapshot_dir)
    assert catalog.resolve("gpt2") == "openai-community/gpt2"
    assert catalog.resolve("openai-community/gpt2") == "openai-community/gpt2"
    assert catalog.get("openai-community/gpt2").aliases == ["gpt2"]
    # two 2024 models are named bert-base-uncased: the organisation the Hub moved legacy ids to wins
    assert catalog.resolve("bert-base-uncased") == "google-bert/bert-base-uncased"
    assert catalog.resolve("BERT-BASE-UNCASED") == "google-bert/bert-base-uncased"
    assert catalog.resolve("distilgpt2") == "distilbert/distilgpt2"
    # legacy ids that were never renamed stay canonical
    assert catalog.resolve("gpt2-medium") == "gpt2-medium"
    assert "gpt2" not in catalog.records


def test_structured_facts_from_tags(snapshot_dir: Path):
    catalog = load_catalog(snapshot_dir)
    assert catalog.get("acme/gpt2-finetuned").base_models == [BaseModel("openai-community/gpt2", "finetune")]
    assert catalog.get("acme/gpt2-gguf").base_models == [BaseModel("openai-community/gpt2", "quantized")]
    assert catalog.get("acme/gpt2-gguf").library == "gguf"
    vit = catalog.get("vision/vit-base")
    assert vit.datasets == ["imagenet-1k"]
    assert vit.license == "apache-2.0"


def test_malformed_and_empty_cells(snapshot_dir: Path):
    catalog = load_catalog(snapshot_dir)
    broken = catalog.get("acme/broken-cells")
    assert broken.tags == []
    assert broken.architectures == []
    assert broken.datasets == ["wikipedia"]
    empty = catalog.get("acme/empty")
    assert (empty.pipeline_tag, empty.library, empty.downloads, empty.tags) == (None, None, 0, [])


def test_unknown_id_suggests_closest(snapshot_dir: Path):
    catalog = load_catalog(snapshot_dir)
    with pytest.raises(UnknownModelError) as info:
        catalog.resolve("gpt2-mediun")
    assert info.value.suggestions[0] == "gpt2-medium"
    assert len(info.value.suggestions) == 5
    assert "did you mean" in str(info.value)


def test_bundled_catalog_size():
    catalog = load_catalog(Path(__file__).resolve().parent.parent / "data" / "snapshots")
    assert 17_400 <= len(catalog) <= 17_600
    assert catalog.resolve("gpt2") == "openai-community/gpt2"
    assert catalog.resolve("bert-base-uncased") == "google-bert/bert-base-uncased"
