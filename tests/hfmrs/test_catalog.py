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
    catalog = load_catalog(Path(__file__).resolve().parents[2] / "data" / "snapshots")
    assert len(catalog) == 19_370  # 10,000 + 9,715 + 3,000 rows; renamed and repeated models merged
    assert catalog.resolve("gpt2") == "openai-community/gpt2"
    assert catalog.resolve("bert-base-uncased") == "google-bert/bert-base-uncased"


COLUMNS_2026 = [
    "model_id",
    "author",
    "downloads",
    "likes",
    "license",
    "gated",
    "last_modified",
    "pipeline_tag",
    "library_name",
    "tags",
    "llmchecker_tasks",
    "modalities",
]


def row26(model_id, tags, task, downloads, likes, gated="0", library="transformers", license_="apache-2.0"):
    return {
        "model_id": model_id,
        "author": model_id.split("/")[0],
        "downloads": str(downloads),
        "likes": str(likes),
        "license": license_,
        "gated": gated,
        "last_modified": "2026-05-01T10:00:00.000Z",
        "pipeline_tag": task,
        "library_name": library,
        "tags": ";".join(tags),
        "llmchecker_tasks": "chat",
        "modalities": "text",
    }


@pytest.fixture
def three_snapshots(tmp_path: Path) -> Path:
    import csv
    import gzip

    from tests.conftest import SNAPSHOT_2024, row24, write_snapshots

    directory = write_snapshots(
        tmp_path / "snapshots",
        rows24=[*SNAPSHOT_2024, row24("THUDM/chatglm3-6b", ["chatglm", "custom_code"], "", 48_000)],
    )
    rows = [
        row26(
            "openai-community/gpt2", ["transformers", "gpt2", "text-generation", "en"], "text-generation", 13e6, 3304
        ),
        row26(
            "zai-org/chatglm3-6b", ["transformers", "chatglm", "custom_code", "zh", "en"], "", 120_000, 1164, gated="1"
        ),
        row26(
            "Qwen/Qwen3-8B",
            [
                "transformers",
                "safetensors",
                "qwen3",
                "text-generation",
                "conversational",
                "arxiv:2505.09388",
                "base_model:Qwen/Qwen3-8B-Base",
                "base_model:finetune:Qwen/Qwen3-8B-Base",
                "license:apache-2.0",
            ],
            "text-generation",
            12_750_554,
            1150,
        ),
    ]
    with gzip.open(directory / "hf-models-2026-06-top3k.csv.gz", "wt", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS_2026)
        writer.writeheader()
        writer.writerows(rows)
    return directory


def test_the_2026_snapshot_joins_as_a_third_point(three_snapshots: Path):
    catalog = load_catalog(three_snapshots)
    assert len(catalog) == 15 + 1 + 1  # the 2024 catalog, THUDM's model, Qwen3-8B
    gpt2 = catalog.get("gpt2")
    assert gpt2.id == "openai-community/gpt2" and gpt2.snapshot == "2026-06" and gpt2.likes == 3304
    assert list(gpt2.history) == ["2023-04", "2024-09", "2026-06"]  # three points, renames included
    # velocity runs from the latest two snapshots: 2024-09-01 -> 2026-06-01 is 638 days
    assert gpt2.download_velocity == round((13_000_000 - 7_800_000) / 638, 3)
    assert gpt2.architectures == ["GPT2LMHeadModel"]  # kept from 2023: the newer rows have no such column
    qwen = catalog.get("Qwen/Qwen3-8B")
    assert qwen.base_models == [BaseModel("Qwen/Qwen3-8B-Base", "finetune")]
    assert (qwen.license, qwen.arxiv, qwen.likes, qwen.gated) == ("apache-2.0", ["2505.09388"], 1150, False)
    assert "conversational" in qwen.tags and qwen.model_type is None  # "qwen3" is no type the snapshots know


def test_organisation_renames_become_aliases(three_snapshots: Path):
    catalog = load_catalog(three_snapshots)
    glm = catalog.get("THUDM/chatglm3-6b")
    assert glm.id == "zai-org/chatglm3-6b" and glm.aliases == ["THUDM/chatglm3-6b"]
    assert glm.history["2024-09"]["downloads"] == 48_000 and glm.gated is True
    assert "THUDM/chatglm3-6b" not in catalog.records


def test_the_npdl_snapshot_can_be_left_out(three_snapshots: Path, tmp_path: Path):
    from hfmrs.settings import Settings
    from hfmrs.sources import NPDL_SNAPSHOTS, open_catalog, snapshot_paths

    settings = Settings(home=tmp_path / "home", snapshot_dir=three_snapshots, _env_file=None)
    assert len(snapshot_paths(settings)) == 3
    without = settings.model_copy(update={"snapshot_exclude": NPDL_SNAPSHOTS})
    assert [p.name for p in snapshot_paths(without)] == [
        "hf-models-2023-04-top10k.csv",
        "hf-models-2024-09-top10k.csv.gz",
    ]
    catalog = open_catalog(without)
    assert "Qwen/Qwen3-8B" not in catalog and catalog.get("gpt2").snapshot == "2024-09"
    assert open_catalog(settings).get("Qwen/Qwen3-8B").model_type == "qwen3"  # a type the size files know
