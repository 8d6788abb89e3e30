"""Free-text search on the bundled catalog with the real MiniLM: needs land on models that do the job,
constraints filter, explicit parameters win, and the plain dense search stays available."""

import pytest

from hfmrs.embedding import SentenceTransformerEncoder
from hfmrs.filters import COMMERCIAL_LICENSES, Filters
from hfmrs.search import smallness


@pytest.fixture(scope="module")
def minilm():
    return SentenceTransformerEncoder()


@pytest.fixture
def search(bundled_engine, minilm):
    def run(text, **kwargs):
        return bundled_engine.search(text, minilm.encode([text])[0].tolist(), **kwargs)

    return run


def test_speech_to_text_finds_speech_recognition_not_speech_synthesis(search):
    result = search("speech to text for meeting recordings", k=10)
    tasks = [r.pipeline_tag for r in result.results]
    assert tasks[:5] == ["automatic-speech-recognition"] * 5
    assert "text-to-speech" not in tasks
    assert any(r.id.startswith("openai/whisper-") for r in result.results[:3])
    assert result.understood == {"tasks": ["automatic-speech-recognition"], "purposes": ["asr"]}
    assert result.results[0].why[0] == "does what you asked: asr"
    # the dense search of before reads "speech" and "text" and returns speech synthesis
    plain = search("speech to text for meeting recordings", k=10, method="cosine")
    assert plain.understood == {} and plain.results[0].pipeline_tag == "text-to-speech"


def test_language_ranks_models_of_that_language_first(search, bundled_engine):
    result = search("German speech recognition", k=5)
    assert result.understood["languages"] == ["de"]
    for r in result.results[:3]:
        assert "de" in bundled_engine.info(r.id)["languages"] and "language: de" in r.why
    asked = [w for r in result.results for w in r.why if w.startswith("does what you asked")]
    assert "does what you asked: asr (de)" in asked  # not "asr, asr (de)": the specific form says both
    assert not any("asr, asr" in w for w in asked)


def test_popular_models_of_the_purpose_come_first(search):
    ids = [r.id for r in search("sentiment analysis", k=10).results]
    well_known = {
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "cardiffnlp/twitter-roberta-base-sentiment-latest",
        "nlptown/bert-base-multilingual-uncased-sentiment",
        "cardiffnlp/twitter-roberta-base-sentiment",
    }
    assert well_known & set(ids[:5])


def test_commercial_use_filters_on_the_licence(search):
    result = search("chat model with a license that allows commercial use", k=20)
    assert result.understood["commercial"] is True
    assert result.results and all(r.license in COMMERCIAL_LICENSES for r in result.results)


def test_format_and_size_constraints_filter(search, bundled_engine):
    gguf = search("GGUF chat model for llama.cpp", k=10)
    assert gguf.understood["format"] == "gguf"
    formats = {r.id: bundled_engine.info(r.id)["formats"] for r in gguf.results}
    assert all("gguf" in f for f in formats.values()), formats
    small = search("speech recognition model under 1B parameters", k=10)
    assert small.understood["max_params_billions"] == 1.0
    assert all(r.params_billions is not None and r.params_billions <= 1.0 for r in small.results)
    assert small.unknown_size and small.notes  # the models of unknown size it left out are counted


def test_explicit_parameters_win_and_parts_can_be_ignored(search):
    result = search("speech to text", k=5, filters=Filters(pipeline_tag="text-to-speech"))
    assert "tasks" not in result.understood
    assert {r.pipeline_tag for r in result.results} == {"text-to-speech"}
    ignored = search("German speech recognition", k=5, ignore=["languages"])
    assert "languages" not in ignored.understood and ignored.understood["tasks"] == ["automatic-speech-recognition"]
    raw = search("German speech recognition", k=5, understand=False)
    assert raw.understood == {}


def test_bad_search_input_is_refused(search):
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        search("speech", method="magic")
    with pytest.raises(ValueError, match="blank"):
        search("   ")
    with pytest.raises(ValueError, match="cannot ignore 'colour'"):
        search("speech", ignore=["colour"])


def test_smallness():
    assert smallness(0.01) == 1.0 and smallness(1.0) == 0.5 and smallness(100) == 0.0
    assert smallness(None) == 0.3


def test_a_domain_ranks_the_domain_models_of_the_task_first(search):
    ids = [r.id.lower() for r in search("legal domain BERT", k=5).results]
    assert all(any(word in i for word in ("legal", "law", "contracts")) for i in ids[:3]), ids
    plain = [r.id.lower() for r in search("legal domain BERT", k=5, ignore=["domains"]).results]
    assert not any("legal" in i for i in plain[:3]), plain  # without the domain: the well-known BERTs


def test_multilingual_reads_a_long_language_list():
    from hfmrs.search import speaks

    assert speaks(["en", "de"], {"de"}) and not speaks(["en"], {"de"})
    assert speaks([f"l{i}" for i in range(12)], {"multilingual"}) and not speaks(["en", "fr"], {"multilingual"})


def test_the_language_pair_asked_for_lifts_that_pair(search):
    ids = [r.id for r in search("translate English to German", k=5).results]
    assert "Helsinki-NLP/opus-mt-en-de" in ids, ids


@pytest.mark.parametrize("method", ["fused", "cosine", "bm25"])
def test_the_first_matches_do_not_change_with_k(search, method):
    for text in ("sentiment analysis", "small English speech recognition model", "llama"):
        longest = [r.id for r in search(text, k=30, method=method).results]
        for j in (1, 3, 5):
            assert [r.id for r in search(text, k=j, method=method).results] == longest[:j], (text, j)
