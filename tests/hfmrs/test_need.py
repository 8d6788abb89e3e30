"""Query understanding: each kind of constraint, the direction of speech tasks, contradictions, nothing."""

import pytest

from hfmrs.filters import Filters
from hfmrs.need import Understood, understand


def test_speech_direction_is_read_right():
    stt = understand("speech to text for meeting recordings")
    assert stt.tasks == ("automatic-speech-recognition",) and stt.purposes == ("asr",)
    tts = understand("text to speech with a natural voice")
    assert tts.tasks == ("text-to-speech",) and "asr" not in tts.purposes
    assert understand("A robust model for transcribing speech in many languages").languages == ("multilingual",)


@pytest.mark.parametrize(
    ("text", "tasks", "purpose"),
    [
        ("An emotion recognition model.", ("text-classification",), "emotion"),
        ("is the caller angry? emotion from voice audio", ("audio-classification",), "speech-emotion"),
        ("detect facial expressions in photos", ("image-classification",), "face"),
        ("classify text into arbitrary categories without training", ("zero-shot-classification",), "nli"),
        ("CLIP model for zero-shot image classification", ("zero-shot-image-classification",), "clip"),
        ("cross-encoder to rerank retrieved passages", ("text-ranking",), "reranking"),
        ("monocular depth estimation", ("depth-estimation",), "depth-estimation"),
    ],
)
def test_tasks_and_purposes(text, tasks, purpose):
    need = understand(text)
    assert need.tasks[: len(tasks)] == tasks and need.purposes[0] == purpose


def test_languages_and_language_pairs():
    assert understand("translate English to German").purposes == ("translation", "translation:en-de")
    assert understand("German to English translation").purposes == ("translation", "translation:de-en")
    german = understand("German speech recognition")
    assert german.languages == ("de",) and german.purposes == ("asr", "asr:de")


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("speech recognition model under 1B parameters", {"max_params_billions": 1.0}),
        ("embedding model below 300M params", {"max_params_billions": 0.3}),
        ("LLM that fits a 24 GB GPU", {"fits_in_gb": 24.0}),
        ("7B instruct model", {"size_band": (3.5, 11.2)}),
        ("chat model with a license that allows commercial use", {"commercial": True}),
        ("sentiment model with an MIT or Apache license", {"commercial": True}),
        ("apache 2.0 licensed embedding model", {"license": "apache-2.0"}),
        ("GGUF chat model for llama.cpp", {"format": "gguf"}),
        ("quantized LLM to run with Ollama", {"format": "gguf"}),
        ("ONNX embedding model for transformers.js in the browser", {"format": "transformers.js"}),
        ("MLX model to run on my Mac", {"format": "mlx"}),
        ("an ONNX export of a sentiment classifier", {"format": "onnx"}),
    ],
)
def test_constraints_become_valid_filter_values(text, values):
    need = understand(text)
    assert dict(need.filters) == values
    assert Filters(**need.filters).values == values  # every inferred value is a valid filter
    assert need.as_dict().items() >= values.items()


def test_vague_size_words_rank_and_never_filter():
    need = understand("small chat model that runs on a phone")
    assert need.prefer_small and need.filters == {}
    assert need.as_dict()["size"] == "small"
    assert not understand("chat model").prefer_small


def test_a_need_with_nothing_to_understand():
    assert understand("a model from Meta") == Understood()
    assert understand("a model from Meta").as_dict() == {}


def test_explicit_filters_win_over_inferred_ones():
    need = understand("German speech to text under 1B that fits 8 GB, commercial use, GGUF")
    assert (
        need.tasks
        and need.languages
        and need.filters.keys() == {"fits_in_gb", "max_params_billions", "commercial", "format"}
    )
    kept = need.under(Filters(pipeline_tag="text-to-speech", max_params_billions=3.0, license="mit", library="onnx"))
    assert kept.tasks == () and kept.purposes == ()  # the explicit task wins
    assert kept.filters == {}  # the explicit size, licence and library replace the inferred ones
    assert kept.languages == ("de",)  # nothing explicit about language
    assert need.under(Filters(language="fr")).languages == ()
    assert need.under(Filters()) == need


def test_parts_can_be_removed():
    need = understand("German speech recognition under 1B parameters")
    assert need.without(["languages"]).languages == ()
    assert need.without(["tasks"]).tasks == () and need.without(["tasks"]).purposes == ()
    assert "max_params_billions" not in need.without(["max_params_billions"]).filters
    assert not understand("small TTS").without(["size"]).prefer_small


def test_domains_are_read_and_can_be_removed():
    assert understand("legal domain BERT").domains == ("legal",)
    assert understand("medical question answering LLM").domains == ("medical",)
    assert understand("sentiment of stock market tweets").domains == ("finance",)
    assert understand("legal domain BERT").as_dict()["domains"] == ["legal"]
    assert understand("legal domain BERT").without(["domains"]).domains == ()
    assert understand("medium sized chat model").domains == ()  # "medium" is no medical word
