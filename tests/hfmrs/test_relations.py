"""Family or alternative, release stems, and copies collapsed under the model they copy."""

from __future__ import annotations

import pytest

from hfmrs.catalog import BaseModel, ModelRecord
from hfmrs.relations import collapse, is_copy, make_room_for_alternatives, name_stem, relation


@pytest.mark.parametrize(
    ("model_id", "stem"),
    [
        ("Qwen/Qwen3-4B-Instruct-2507", "qwen3"),
        ("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "llama"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama"),
        ("openai/whisper-small.en", "whisper"),
        ("openai/whisper-large-v3-turbo", "whisper"),
        ("jonatasgrosman/wav2vec2-large-xlsr-53-english", "wav2vec2-xlsr"),
        ("cardiffnlp/twitter-roberta-base-sentiment", "twitter-roberta-sentiment"),
    ],
)
def test_name_stem(model_id: str, stem: str):
    assert name_stem(model_id) == stem


def payload(model_id: str, **fields) -> dict:
    author = model_id.split("/")[0] if "/" in model_id else ""
    return {"id": model_id, "author": author, "stem": name_stem(model_id), "family": model_id, **fields}


QUERY = payload("Qwen/Qwen3-8B", family="Qwen/Qwen3-8B-Base", base_model_ids=["Qwen/Qwen3-8B-Base"])


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (payload("Qwen/Qwen3-8B-Base"), "family"),  # its base
        (payload("x/qwen3-8b-finetune", base_model_ids=["Qwen/Qwen3-8B"]), "family"),  # a child
        (payload("Qwen/Qwen3-8B-AWQ", base_model_ids=["Qwen/Qwen3-8B-Base"]), "family"),  # a sibling
        (payload("y/deep", family="Qwen/Qwen3-8B-Base"), "family"),  # the same lineage tree
        (payload("Qwen/Qwen3-4B"), "family"),  # a size variant of the release
        (payload("bartowski/Qwen3-14B-GGUF", copy=True), "family"),  # a third party's copy of the release
        (payload("someone/Qwen3-8B"), "family"),  # a re-upload
        (payload("meta-llama/Llama-3.1-8B-Instruct"), "alternative"),
        (payload("z/qwen3-chat-tune"), "alternative"),  # the same words by another author, no lineage
    ],
)
def test_relation(result: dict, expected: str):
    assert relation(QUERY, result) == expected


def test_copies_collapse_under_the_model_they_copy():
    ranked = [
        payload("bartowski/Llama-3.1-8B-GGUF", copy=True, base_model_ids=["meta-llama/Llama-3.1-8B"]),
        payload("meta-llama/Llama-3.1-8B"),
        payload("Qwen/Qwen3-8B-AWQ", copy=True, base_model_ids=["Qwen/Qwen3-8B"]),  # a copy of the query
        payload("hf-internal-testing/tiny-random-llama", test_copy=True),
        payload("Qwen/Qwen3-8B-FP8", copy=True, base_model_ids=["Qwen/Qwen3-8B"]),
        payload("google/gemma-2-9b-it"),
        payload("hf-internal-testing/tiny-random-gemma", test_copy=True),
    ]
    groups = [(ranked[i]["id"], copies) for i, copies in collapse(QUERY, ranked)]
    assert groups == [
        ("meta-llama/Llama-3.1-8B", ["bartowski/Llama-3.1-8B-GGUF"]),  # joins the original, wherever it ranks
        ("Qwen/Qwen3-8B-AWQ", ["Qwen/Qwen3-8B-FP8"]),  # the query's copies: one group, the best first
        ("hf-internal-testing/tiny-random-llama", ["hf-internal-testing/tiny-random-gemma"]),
        ("google/gemma-2-9b-it", []),
    ]


def test_copies_standing_alone_beyond_two_go_last():
    ranked = [
        payload("nvidia/Qwen3-30B-A3B-NVFP4", copy=True, base_model_ids=["Qwen/Qwen3-30B-A3B"]),
        payload("nvidia/Kimi-K2.5-NVFP4", copy=True, base_model_ids=["moonshotai/Kimi-K2.5"]),
        payload("nvidia/GLM-5.1-NVFP4", copy=True, base_model_ids=["zai-org/GLM-5.1"]),
        payload("meta-llama/Llama-3.1-8B-Instruct"),
        payload("bartowski/Llama-3.1-8B-Instruct-GGUF", copy=True, base_model_ids=["meta-llama/Llama-3.1-8B-Instruct"]),
        payload("google/gemma-2-9b-it"),
    ]
    order = [ranked[i]["id"] for i, _ in collapse(QUERY, ranked, max_copies=2)]
    assert order == [
        "nvidia/Qwen3-30B-A3B-NVFP4",
        "nvidia/Kimi-K2.5-NVFP4",
        "meta-llama/Llama-3.1-8B-Instruct",  # its GGUF is grouped under it, not counted
        "google/gemma-2-9b-it",
        "nvidia/GLM-5.1-NVFP4",  # the third copy standing for its group: after every other result
    ]
    assert [ranked[i]["id"] for i, _ in collapse(QUERY, ranked)][2] == "nvidia/GLM-5.1-NVFP4"  # no cap: rank order


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (ModelRecord("Qwen/Qwen2.5-7B-Instruct-AWQ", "Qwen"), True),  # the name says it
        (ModelRecord("bartowski/Llama-3.2-1B-GGUF", "bartowski", library="gguf"), True),
        (ModelRecord("Xenova/bert-base-uncased", "Xenova", library="transformers.js"), True),
        (
            ModelRecord(
                "nvidia/Kimi-K2.5-NVFP4",
                "nvidia",
                weight_format="fp4",
                base_models=[BaseModel("moonshotai/Kimi-K2.5", "quantized")],
            ),
            True,
        ),
        (ModelRecord("deepseek-ai/DeepSeek-R1", "deepseek-ai", weight_format="fp8", tags=["fp8"]), False),  # trained so
        (ModelRecord("openai/gpt-oss-20b", "openai", weight_format="fp4", tags=["mxfp4"]), False),  # released so
        (ModelRecord("google-bert/bert-base-uncased", "google-bert"), False),
    ],
)
def test_is_copy_needs_the_name_the_library_or_a_quantized_base(record: ModelRecord, expected: bool):
    assert is_copy(record) is expected


def test_room_for_alternatives_on_the_first_page():
    ranked = ["family"] * 8 + ["copy", "alternative", "family", "alternative", "alternative", "alternative"]
    order = make_room_for_alternatives(ranked, k=10, share=0.3)
    assert order[:10] == [0, 1, 2, 3, 4, 5, 8, 9, 11, 12]  # the two last family results make room for two
    assert order[10:] == [6, 7, 10, 13]
    assert make_room_for_alternatives(ranked, k=3, share=0.3) == list(range(len(ranked)))  # a top 3: no quota
    assert make_room_for_alternatives(["family"] * 12, k=10) == list(range(12))  # none to promote
