"""Purposes: from names and tags, a dataset map learned from co-occurrence, lineage, and the pipeline tag."""

from __future__ import annotations

from hfmrs.catalog import BaseModel, Catalog, ModelRecord
from hfmrs.purpose import assign_purposes, evident_purposes, learn_dataset_purposes


def record(model_id: str, task: str | None = "text-classification", **fields) -> ModelRecord:
    return ModelRecord(id=model_id, author=model_id.split("/")[0], pipeline_tag=task, **fields)


def test_names_and_tags_say_it_first():
    assert evident_purposes(record("cardiffnlp/twitter-roberta-base-sentiment-latest")) == ["sentiment"]
    assert evident_purposes(record("dslim/bert-base-NER", "token-classification")) == ["ner"]
    assert evident_purposes(record("x/llama-chat", "text-generation", tags=["conversational"])) == ["chat"]
    assert "chat" not in evident_purposes(record("dbmdz/bert-base-italian-cased", "fill-mask"))  # "it" is not chat
    speech = record("superb/wav2vec2-base-superb-er", "audio-classification", tags=["emotion-recognition"])
    assert evident_purposes(speech)[0] == "speech-emotion"


def test_a_dataset_implies_what_most_of_its_models_are_for():
    models = [record(f"a/sentiment-{i}", datasets=["tweets-x"]) for i in range(3)]
    models.append(record("a/other", datasets=["tweets-x"]))
    evident = {m.id: evident_purposes(m) for m in models}
    assert learn_dataset_purposes(models, evident)["tweets-x"] == "sentiment"  # 3 of 4 models: learned
    assert learn_dataset_purposes(models[:2], evident).get("tweets-x") is None  # too few to learn from


def test_assigned_purposes_use_data_lineage_and_the_pipeline():
    catalog = Catalog(
        [
            record("a/sst-model", datasets=["sst2"]),  # seeded dataset
            record("a/plain-classifier", datasets=["my-data"], base_models=[BaseModel("a/sst-model", "finetune")]),
            record("b/embedder", "sentence-similarity", datasets=["snli"]),  # data says NLI, the task says not
            record("Helsinki-NLP/opus-mt-en-de", "translation"),
            record("openai/whisper-small.en", "automatic-speech-recognition", languages=["en"]),
        ]
    )
    assign_purposes(catalog, {"a/plain-classifier": ["a/sst-model"]})
    assert catalog.get("a/sst-model").purposes == ["sentiment", "text-classification"]
    assert catalog.get("a/plain-classifier").purposes == ["sentiment", "text-classification"]  # from its parent
    assert catalog.get("b/embedder").purposes == ["embeddings"]
    assert catalog.get("Helsinki-NLP/opus-mt-en-de").purposes == ["translation", "translation:en-de"]
    assert catalog.get("openai/whisper-small.en").purposes == ["asr", "asr:en"]
