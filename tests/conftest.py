"""Shared fixtures: a small two-snapshot catalog with known answers, a keyword encoder, built stores."""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests on the small catalogs check engine and API mechanics with exact keyword-encoder answers, so
# they name cosine as the default; the shipped default (fused, by the judged set) is pinned in
# tests/hfmrs/test_settings.py and exercised on the bundled catalog in tests/hfmrs/test_bundled_minilm.py.
os.environ["HFMRS_DEFAULT_METHOD"] = "cosine"

from hfmrs.embedding import KeywordEncoder
from hfmrs.engine import Engine
from hfmrs.pipeline import build
from hfmrs.settings import Settings

KEYWORDS = [
    "gpt2",
    "text",
    "generation",
    "bert",
    "fill",
    "mask",
    "speech",
    "wav2vec2",
    "vit",
    "image",
    "classification",
    "llama",
]

COLUMNS_2023 = [
    "modelId",
    "lastModified",
    "tags",
    "pipeline_tag",
    "author",
    "architectures",
    "model_type",
    "datasets",
    "downloads",
    "library_name",
]
COLUMNS_2024 = [
    "modelId",
    "modelName",
    "author",
    "downloads",
    "lastModified",
    "tags",
    "pipeline_tag",
    "sha",
    "private",
    "inference",
]


def row23(model_id, tags, task, arch, mtype, downloads, datasets="", library="transformers", author=""):
    return {
        "modelId": model_id,
        "lastModified": "2023-01-02T03:04:05.000Z",
        "tags": str(tags),
        "pipeline_tag": task,
        "author": author,
        "architectures": str(arch) if arch else "",
        "model_type": mtype,
        "datasets": datasets,
        "downloads": str(downloads),
        "library_name": library,
    }


def row24(model_id, tags, task, downloads, modified="2024-02-19 10:57:45+00:00"):
    org, name = model_id.split("/", 1)
    return {
        "modelId": model_id,
        "modelName": name,
        "author": org,
        "downloads": str(downloads),
        "lastModified": modified,
        "tags": str(tags),
        "pipeline_tag": task,
        "sha": "0" * 40,
        "private": "False",
        "inference": "cold",
    }


GPT2_TAGS = ["pytorch", "gpt2", "text-generation", "en", "transformers", "license:mit", "has_space"]
BERT_TAGS = ["pytorch", "bert", "fill-mask", "en", "dataset:wikipedia", "transformers", "license:apache-2.0"]

SNAPSHOT_2023 = [
    row23("gpt2", GPT2_TAGS, "text-generation", ["GPT2LMHeadModel"], "gpt2", 22_000_000),
    row23("gpt2-medium", GPT2_TAGS, "text-generation", ["GPT2LMHeadModel"], "gpt2", 990_000),
    row23(
        "distilgpt2",
        [*GPT2_TAGS, "dataset:openwebtext"],
        "text-generation",
        ["GPT2LMHeadModel"],
        "gpt2",
        3_000_000,
        "['openwebtext']",
    ),
    row23("bert-base-uncased", BERT_TAGS, "fill-mask", ["BertForMaskedLM"], "bert", 46_000_000, "['wikipedia']"),
    row23("bert-base-cased", BERT_TAGS, "fill-mask", ["BertForMaskedLM"], "bert", 5_000_000, "['wikipedia']"),
    row23(
        "acme/wav2vec2-speech",
        ["pytorch", "wav2vec2", "automatic-speech-recognition", "speech", "en"],
        "automatic-speech-recognition",
        ["Wav2Vec2ForCTC"],
        "wav2vec2",
        40_000,
        "",
        author="acme",
    ),
    # malformed and empty list cells
    row23("acme/broken-cells", "['pytorch', 'bert'", "fill-mask", None, "bert", 10, "wikipedia", author="acme"),
    row23("acme/empty", [], "", None, "", "", "", library=""),
]
SNAPSHOT_2024 = [
    row24("openai-community/gpt2", [*GPT2_TAGS, "region:us", "endpoints_compatible"], "text-generation", 7_800_000),
    row24("openai-community/gpt2-large", [*GPT2_TAGS, "region:us"], "text-generation", 1_000_000),
    row24("distilbert/distilgpt2", [*GPT2_TAGS, "dataset:openwebtext", "region:us"], "text-generation", 3_400_000),
    row24("google-bert/bert-base-uncased", [*BERT_TAGS, "region:us"], "fill-mask", 61_000_000),
    row24("Habana/bert-base-uncased", ["optimum_habana", "license:apache-2.0", "region:us"], "", 1_000),
    row24(
        "acme/gpt2-finetuned",
        [*GPT2_TAGS, "base_model:openai-community/gpt2", "base_model:finetune:openai-community/gpt2"],
        "text-generation",
        500,
    ),
    row24(
        "acme/gpt2-gguf",
        ["gguf", "gpt2", "text-generation", "base_model:quantized:openai-community/gpt2"],
        "text-generation",
        300,
    ),
    row24(
        "vision/vit-base",
        ["transformers", "vit", "image-classification", "dataset:imagenet-1k", "license:apache-2.0"],
        "image-classification",
        2_000_000,
    ),
    row24(
        "vision/vit-large",
        ["transformers", "vit", "image-classification", "dataset:imagenet-1k", "license:apache-2.0"],
        "image-classification",
        300_000,
    ),
    row24(
        "meta/llama-7b",
        ["transformers", "llama", "text-generation", "license:llama2"],
        "text-generation",
        900_000,
        "2024-06-01 00:00:00+00:00",
    ),
]


def write_snapshots(directory: Path, rows23=SNAPSHOT_2023, rows24=SNAPSHOT_2024) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, columns, rows in (
        ("hf-models-2023-04-top10k.csv", COLUMNS_2023, rows23),
        ("hf-models-2024-09-top10k.csv.gz", COLUMNS_2024, rows24),
    ):
        path = directory / name
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "wt", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return directory


@pytest.fixture
def snapshot_dir(tmp_path: Path) -> Path:
    return write_snapshots(tmp_path / "snapshots")


@pytest.fixture
def settings(tmp_path: Path, snapshot_dir: Path) -> Settings:
    return Settings(
        home=tmp_path / "home", snapshot_dir=snapshot_dir, vector_cache=tmp_path / "no-bundled-vectors", _env_file=None
    )


@pytest.fixture
def encoder() -> KeywordEncoder:
    return KeywordEncoder(KEYWORDS)


@pytest.fixture
def engine(settings: Settings, encoder: KeywordEncoder):
    build(settings, encoder=encoder, show_progress=False)
    eng = Engine.open(settings)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def bundled_engine(tmp_path_factory):
    """The full bundled catalog with real MiniLM vectors (from the shipped vector cache)."""
    home = tmp_path_factory.mktemp("bundled-home")
    settings = Settings(home=home, default_method=Settings.model_fields["default_method"].default, _env_file=None)
    build(settings, show_progress=False)
    eng = Engine.open(settings)
    yield eng
    eng.close()
