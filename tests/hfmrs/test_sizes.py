"""Model sizes: names, formats, memory, the estimator's source order, and accuracy against listed counts."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from hfmrs.catalog import BaseModel, Catalog, ModelRecord
from hfmrs.facts import ListedFacts
from hfmrs.filters import Filters, params_limit_for_memory, quantized_limit_for_memory
from hfmrs.lineage import declared_parents
from hfmrs.settings import BUNDLED_DATA, Settings
from hfmrs.sizes import (
    FAMILY_TABLE,
    FamilyTable,
    estimate_sizes,
    format_params,
    memory_fields,
    params_from_name,
    tiny_test_model_size,
    weight_format,
)
from hfmrs.sources import open_catalog


@pytest.mark.parametrize(
    ("model_id", "params"),
    [
        ("meta-llama/Llama-2-7b-hf", 7e9),
        ("Qwen/Qwen2.5-0.5B-Instruct", 0.5e9),
        ("Qwen/Qwen3-30B-A3B", 30e9),  # A3B: active parameters, not a size
        ("facebook/opt-125m", 125e6),
        ("bigscience/bloomz-7b1", 7.1e9),
        ("internlm/internlm2_5-1_8b-chat", 1.8e9),
        ("allenai/OLMoE-1B-7B-0924", 7e9),  # the larger of two sizes: total, not active
        ("Qwen/Qwen2.5-7B-Instruct-1M", 7e9),  # 1M is the context
        ("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T", 1.1e9),  # 3T tokens, 1431k steps
        ("someone/qwen7b-cot", 7e9),
        ("mistralai/Mixtral-8x7B-v0.1", 8 * 7e9 * 0.82),
        ("laion/CLIP-ViT-B-32-laion2B-s34B-b79K", None),  # dataset and sample sizes, not parameters
        ("microsoft/Phi-3-mini-4k-instruct", None),  # 4k: context
        ("openai-community/gpt2", None),
    ],
)
def test_params_from_name(model_id: str, params: float | None):
    got = params_from_name(model_id)
    assert got == (None if params is None else pytest.approx(params, rel=1e-9))


@pytest.mark.parametrize(
    ("model_id", "tags", "library", "expected"),
    [
        ("TheBloke/Llama-2-7B-GGUF", [], "gguf", "gguf"),
        ("Qwen/Qwen2.5-7B-Instruct-AWQ", ["awq"], "transformers", "awq"),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int8", ["gptq"], "transformers", "int8"),
        ("RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8", [], "transformers", "fp8"),
        ("RedHatAI/Qwen3-8B-quantized.w4a16", [], "transformers", "int4"),
        ("mlx-community/Qwen3-0.6B-4bit", ["mlx"], "mlx", "mlx-4bit"),
        ("mlx-community/Qwen3-0.6B-bf16", ["mlx"], "mlx", None),
        ("unsloth/llama-3-8b-bnb-4bit", ["bitsandbytes", "4-bit"], "transformers", "bnb-4bit"),
        ("nvidia/Qwen3.6-35B-A3B-NVFP4", [], "Model Optimizer", "fp4"),
        ("onnx-community/whisper-small", ["onnx"], "transformers.js", None),  # fp32 weights
        ("openai-community/gpt2", [], "transformers", None),
    ],
)
def test_weight_format(model_id, tags, library, expected):
    assert weight_format(model_id, tags, library) == expected


def fits(payload: dict, gb: float, dtype: str = "fp16") -> bool:
    return Filters(fits_in_gb=gb, dtype=dtype).matches({"id": "m", **payload})


def test_memory_fields_and_fits():
    # 7B at fp16 needs ~15.6 GiB with the 1.2 overhead: not in 8 GB, yes in 24 GB
    full = memory_fields(7_000_000_000, None)
    assert full == {"fp_params_billions": 7.0, "quantized_weights_gb": None}
    assert not fits(full, 8, "fp16") and fits(full, 24, "fp16") and fits(full, 8, "int4")
    # the same model as a Q4 GGUF: ~3.65 GiB of weights, fits 8 GB whatever dtype is asked for
    gguf = memory_fields(7_000_000_000, "gguf")
    assert gguf["fp_params_billions"] is None and gguf["quantized_weights_gb"] == pytest.approx(3.651, abs=1e-3)
    assert fits(gguf, 8, "fp32") and not fits(gguf, 4, "fp16")
    assert not fits(memory_fields(None, None), 1000)  # unknown size never "fits"
    assert params_limit_for_memory(24, "fp16") == pytest.approx(10.737, abs=1e-3)
    assert quantized_limit_for_memory(24) == 20.0
    with pytest.raises(ValueError, match="unknown dtype"):
        params_limit_for_memory(24, "fp8")  # type: ignore[arg-type]


def test_format_params():
    assert [format_params(b, s) for b, s in ((8.190735, "listed"), (0.9999, "name"), (0.0605, "family"))] == [
        "8.19B",
        "~1B",
        "~60.5M",
    ]
    assert format_params(None) == ""


def test_tiny_test_models_are_sized_as_such():
    assert tiny_test_model_size("hf-internal-testing/tiny-random-LlamaForCausalLM") == 2_000_000
    assert tiny_test_model_size("tiny-random/qwen3-next-moe") == 2_000_000
    assert tiny_test_model_size("TinyLlama/TinyLlama-1.1B-Chat-v1.0") is None  # a real 1.1B model
    assert tiny_test_model_size("prajjwal1/bert-tiny") is None  # a real (small) BERT


def record(model_id: str, **fields) -> ModelRecord:
    return ModelRecord(id=model_id, author=model_id.split("/")[0], **fields)


def test_sources_best_first():
    table = FamilyTable.load(BUNDLED_DATA / "sizes" / FAMILY_TABLE)
    catalog = Catalog(
        [
            record("org/exact-model", model_type="llama"),  # listed: 6.74B, although its children say 7B
            record("org/exact-model-GGUF", tags=["gguf"], library="gguf"),  # its parent's exact size
            record("org/Thing-7B"),  # the name
            record("other/thing-ft", base_models=[BaseModel("org/Thing-7B", "finetune")]),  # lineage (an estimate)
            record("nlp/bert-large-finetuned-x", model_type="bert"),  # a size word of a known family
            record("nlp/some-bert-model", model_type="bert"),  # the family's size
            record("q/awq-copy-AWQ", tags=["awq"]),  # a packed count only: listed, as the last resort
            record("x/mystery"),  # nothing to go by
        ]
    )
    listed = {
        "org/exact-model": ListedFacts(params=6_740_000_000, params_from="llmfit"),
        "q/awq-copy-AWQ": ListedFacts(params=1_200_000_000, params_from="llmfit"),
    }
    parents = {"org/exact-model-GGUF": ["org/exact-model"], "other/thing-ft": ["org/Thing-7B"]}
    report = estimate_sizes(catalog, listed, parents, table)
    got = {r.id: (r.params, r.params_source) for r in catalog}
    assert got == {
        "org/exact-model": (6_740_000_000, "listed"),
        "org/exact-model-GGUF": (6_740_000_000, "lineage"),
        "org/Thing-7B": (7_000_000_000, "name"),
        "other/thing-ft": (7_000_000_000, "lineage"),
        "nlp/bert-large-finetuned-x": (335_000_000, "name"),
        "nlp/some-bert-model": (110_000_000, "family"),
        "q/awq-copy-AWQ": (1_200_000_000, "listed"),
        "x/mystery": (None, None),
    }
    assert report.sized == 7 and report.by_source["lineage"] == 2
    assert catalog.records["org/exact-model-GGUF"].weight_format == "gguf"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("home"), _env_file=None)
    return settings, open_catalog(settings, live=False)


def test_estimates_agree_with_listed_sizes(bundled):
    """Every model with a listed (exact) count, sized again without the size files: how far off are the
    estimates?  Measured: median relative error 2.2 %, 89 % within 20 % (910 of 1,094 listed models)."""
    settings, catalog = bundled
    exact = {r.id: r.params for r in catalog if r.params_source == "listed"}
    table = FamilyTable.load(settings.sizes_dir / FAMILY_TABLE)
    estimate_sizes(catalog, {}, declared_parents(catalog, settings.lineage_dir), table)
    errors = [abs(catalog.records[i].params - p) / p for i, p in exact.items() if catalog.records[i].params]
    median = statistics.median(errors)
    within = sum(e <= 0.2 for e in errors) / len(errors)
    print(
        f"\nsize estimates vs {len(errors)} listed counts: median relative error {median:.3f}, "
        f"within 20 %: {within:.2f}"
    )
    assert len(exact) > 1000 and len(errors) > 0.8 * len(exact)
    assert median < 0.05 and within > 0.85


def test_bundled_catalog_coverage(tmp_path):
    catalog = open_catalog(Settings(home=tmp_path, _env_file=None), live=False)
    sizes = catalog.facts["sizes"]
    assert sizes["sized"] / sizes["models"] >= 0.85
    assert sizes["popular_sized"] / sizes["popular"] >= 0.88  # the target is 0.95: see data/README.md
    qwen = catalog.get("Qwen/Qwen3-8B")
    assert (qwen.params, qwen.params_source, qwen.context_length) == (8_190_735_360, "listed", 40_960)
    llama = catalog.get("meta-llama/Llama-3.1-8B-Instruct")
    assert llama.leaderboard["average"] > 20 and llama.leaderboard["as_of"] == "2025-03"


def test_missing_size_files_are_skipped(tmp_path: Path):
    settings = Settings(home=tmp_path, sizes_dir=tmp_path / "nowhere", _env_file=None)
    catalog = open_catalog(settings, live=False)
    qwen = catalog.get("Qwen/Qwen3-8B")
    assert qwen.params_source == "name" and qwen.params == 8_000_000_000 and qwen.context_length is None
