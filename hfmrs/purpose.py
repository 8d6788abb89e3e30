"""What a model is for: the purposes a practitioner would name, beyond the Hub's pipeline tag.

A pipeline tag says "text-classification"; a practitioner says "sentiment", "emotion", "toxicity" or
"language identification".  Each model gets a list of purposes (most specific first) from four kinds of
evidence, strongest first:

1. its tags and the words of its name (``sentiment`` in ``twitter-roberta-base-sentiment``, ``ner`` in
   ``bert-base-NER``, a ``conversational`` tag, ``opus-mt-en-de``);
2. its training datasets, through a dataset -> purpose map **learned from co-occurrence** over the
   catalog: a dataset most of whose models (where their purpose is known from tags and names) share one
   purpose implies it (``go_emotions`` -> emotion, ``conll2003`` -> ner), on top of a few seeds;
3. its lineage: a fine-tune without a purpose of its own inherits its parent's;
4. its pipeline tag, as the general purpose everything falls back to (``asr``, ``text-to-image``).

Translation and speech recognition carry their languages (``translation:en-de``, ``asr:en``) as an
extra purpose, so "another German-English translation system" can be told from any translator.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hfmrs.features import NOISE_TAGS

if TYPE_CHECKING:
    from hfmrs.catalog import Catalog, ModelRecord

# The general purpose of each pipeline tag (the fallback); tags not listed are their own purpose.
PIPELINE_PURPOSE = {
    "text-generation": "language-model",
    "text2text-generation": "text2text",
    "fill-mask": "masked-lm",
    "sentence-similarity": "embeddings",
    "feature-extraction": "embeddings",
    "text-ranking": "reranking",
    "conversational": "chat",
    "token-classification": "token-classification",
    "question-answering": "extractive-qa",
    "zero-shot-classification": "nli",
    "automatic-speech-recognition": "asr",
    "text-to-speech": "tts",
    "text-to-audio": "audio-generation",
    "image-text-to-text": "vlm",
    "visual-question-answering": "vlm",
    "image-to-text": "captioning",
    "zero-shot-image-classification": "clip",
    "image-feature-extraction": "image-embeddings",
    "zero-shot-object-detection": "open-vocabulary-detection",
    "voice-activity-detection": "vad",
    "tabular-classification": "tabular",
    "tabular-regression": "tabular",
    "reinforcement-learning": "reinforcement-learning",
}

# Specific purposes recognised from name words and tags: purpose -> (name/tag words, multi-word phrases).
# Words are matched against the lower-cased name split on punctuation, and against tags.
WORD_PURPOSES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sentiment": (("sentiment", "sentiment-analysis", "sst2", "sst-2", "polarity", "finbert"), ()),
    "emotion": (("emotion", "emotions", "go_emotions", "goemotions"), ()),
    "toxicity": (("toxic", "toxicity", "hate", "offensive", "detoxify"), ("hate speech",)),
    "nli": (("nli", "mnli", "xnli", "anli", "snli", "zero-shot-classification", "fever"), ()),
    "ner": (("ner", "named-entity-recognition", "conll03", "conll2003", "ontonotes", "wikiann", "gliner"), ()),
    "pos": (("pos", "upos", "part-of-speech"), ()),
    "extractive-qa": (("squad", "squad2", "squad_v2", "extractive-qa"), ()),
    "summarization": (("summarization", "summarisation", "summary", "cnn", "xsum", "samsum", "cnndm"), ()),
    "translation": (
        (
            "translation",
            "opus-mt",
            "nllb",
            "m2m100",
            "madlad",
            "seamless",
            "marian",
            "mmt",
            "wmt19",
            "wmt21",
            "alma",
            "towerinstruct",
        ),
        ("opus mt",),
    ),
    "language-id": (("language-detection", "langid", "language-identification", "lid"), ("language detection",)),
    "reranking": (("reranker", "rerank", "cross-encoder", "text-ranking", "colbert", "monot5"), ()),
    "embeddings": (("embedding", "embeddings", "embed", "sentence-transformers", "e5", "bge", "gte", "retrieval"), ()),
    "chat": (("chat", "instruct", "it", "conversational", "assistant", "dpo", "sft", "rlhf"), ()),
    "reasoning": (("reasoning", "thinking", "r1", "qwq", "cot"), ()),
    "code": (
        (
            "code",
            "coder",
            "codegen",
            "starcoder",
            "starcoder2",
            "codellama",
            "codestral",
            "codet5",
            "santacoder",
            "codegemma",
            "deepseek-coder",
            "qwen2.5-coder",
            "codeqwen",
            "granite-code",
        ),
        (),
    ),
    "math": (("math", "mathstral", "gsm8k"), ()),
    "diarization": (("diarization", "diarisation"), ("speaker diarization",)),
    "speaker-verification": (("spkrec", "ecapa", "titanet", "wespeaker", "speaker-verification", "xvect"), ()),
    "vad": (("vad", "voice-activity-detection"), ("voice activity",)),
    "speech-emotion": ((), ("speech emotion", "emotion recognition")),
    "music": (("music", "musicgen", "audioldm", "riffusion"), ()),
    "ocr": (("ocr", "trocr", "donut", "nougat", "paddleocr", "docling", "surya"), ()),
    "nsfw-detection": (("nsfw",), ()),
    "background-removal": (("rmbg", "birefnet", "matting", "background-removal"), ("background removal",)),
    "depth-estimation": (("depth", "depth-estimation", "dpt", "zoedepth", "marigold"), ()),
    "controlnet": (("controlnet",), ()),
    "inpainting": (("inpainting", "inpaint"), ()),
    "upscaling": (("upscaler", "upscale", "esrgan", "super-resolution", "swin2sr"), ()),
    "face": (("face", "facial"), ()),
}

# A few datasets whose purpose is certain, beside the learned map.
SEED_DATASETS = {
    "sst2": "sentiment",
    "imdb": "sentiment",
    "yelp_polarity": "sentiment",
    "amazon_polarity": "sentiment",
    "go_emotions": "emotion",
    "emotion": "emotion",
    "conll2003": "ner",
    "wikiann": "ner",
    "squad": "extractive-qa",
    "squad_v2": "extractive-qa",
    "multi_nli": "nli",
    "snli": "nli",
    "xnli": "nli",
    "cnn_dailymail": "summarization",
    "xsum": "summarization",
    "samsum": "summarization",
    "wmt16": "translation",
    "opus100": "translation",
}

# Purposes that only refine a generic one; what a dataset may imply (a learned map never implies "chat").
SPECIFIC = frozenset(WORD_PURPOSES) - {"chat", "embeddings", "reranking"}
# Tasks whose models a training dataset characterises (a sentiment dataset makes a sentiment classifier, but
# an embedding model trained on SNLI is no NLI model).
DATASET_TASKS = frozenset(
    {
        None,
        "text-classification",
        "token-classification",
        "question-answering",
        "zero-shot-classification",
        "summarization",
        "translation",
        "text2text-generation",
        "audio-classification",
        "image-classification",
    }
)
LEARN_MIN_MODELS = 3
LEARN_MIN_SHARE = 0.6
_SPLIT = re.compile(r"[-_./\s]+")
_CODE = re.compile(r"^[a-z]{2,3}$")


def words_of(model_id: str) -> set[str]:
    """Name words, lower-cased, plus the hyphenated runs ("opus-mt", "sst-2")."""
    name = model_id.rsplit("/", 1)[-1].lower()
    words = {w for w in _SPLIT.split(name) if w}
    parts = name.split("-")
    words |= {f"{a}-{b}" for a, b in itertools.pairwise(parts)}
    return words


def _named(words: set[str]) -> list[str]:
    text = " ".join(sorted(words))
    return [
        purpose
        for purpose, (keys, phrases) in WORD_PURPOSES.items()
        if words.intersection(keys) or any(p in text for p in phrases)
    ]


def evident_purposes(record: ModelRecord) -> list[str]:
    """Purposes named by the model's own name (first) and tags."""
    tags = {t.lower() for t in record.tags if ":" not in t and t not in NOISE_TAGS}
    tags |= {part for t in tags for part in re.split(r"[-_ ]+", t) if part}
    found = list(dict.fromkeys([*_named(words_of(record.id)), *_named(tags)]))
    # "it" and "chat" words only mean chat for generative models ("bert-base-italian" has no chat in it)
    if "chat" in found and record.pipeline_tag not in ("text-generation", "image-text-to-text", None):
        found.remove("chat")
    if "speech-emotion" in found or ("emotion" in found and record.pipeline_tag == "audio-classification"):
        found = ["speech-emotion", *[p for p in found if p not in ("emotion", "speech-emotion")]]
    return found


def language_purposes(record: ModelRecord, purposes: Sequence[str]) -> list[str]:
    """``translation:en-de`` from an ``xx-yy`` pair in the name; ``asr:xx`` for single-language ASR."""
    out = []
    if "translation" in purposes or record.pipeline_tag == "translation":
        words = [w for w in re.split(r"[-_./]+", record.id.rsplit("/", 1)[-1].lower()) if w]
        pairs = [(a, b) for a, b in itertools.pairwise(words) if _CODE.match(a) and _CODE.match(b) and a != b]
        if pairs and pairs[-1] != ("opus", "mt"):  # opus-mt-en-de: the last pair of codes is the direction
            out.append(f"translation:{pairs[-1][0]}-{pairs[-1][1]}")
    if record.pipeline_tag == "automatic-speech-recognition" and len(record.languages) == 1:
        out.append(f"asr:{record.languages[0]}")
    return out


def learn_dataset_purposes(records: Iterable[ModelRecord], evident: Mapping[str, list[str]]) -> dict[str, str]:
    """Datasets -> the specific purpose most of their models have (where tags and names say), plus seeds."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for record in records:
        specific = [p for p in evident.get(record.id, []) if p in SPECIFIC]
        for dataset in record.datasets:
            totals[dataset] += 1
            if specific:
                counts[dataset][specific[0]] += 1
    learned = dict(SEED_DATASETS)
    for dataset, purposes in counts.items():
        purpose, n = purposes.most_common(1)[0]
        if n >= LEARN_MIN_MODELS and n / totals[dataset] >= LEARN_MIN_SHARE:
            learned.setdefault(dataset, purpose)
    return learned


def assign_purposes(catalog: Catalog, parents: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Set every record's ``purposes`` (in place); returns the learned dataset -> purpose map."""
    records = list(catalog)
    evident = {r.id: evident_purposes(r) for r in records}
    by_dataset = learn_dataset_purposes(records, evident)
    for record in records:
        purposes = list(evident[record.id])
        if record.pipeline_tag in DATASET_TASKS and not any(p in SPECIFIC for p in purposes):
            implied = [by_dataset[d] for d in record.datasets if d in by_dataset]
            purposes += [p for p, _ in Counter(implied).most_common(2)]
        record.purposes = list(dict.fromkeys(purposes))
    for record in records:  # lineage: a fine-tune with no specific purpose takes its parent's
        if not any(p in SPECIFIC for p in record.purposes):
            for parent in parents.get(record.id, ()):
                found = catalog.ids.find(parent)
                inherited = [p for p in catalog.records[found].purposes if p in SPECIFIC] if found else []
                if inherited:
                    record.purposes = [*inherited[:1], *record.purposes]
                    break
    for record in records:
        general = PIPELINE_PURPOSE.get(record.pipeline_tag or "", record.pipeline_tag)
        purposes = [*record.purposes, *([general] if general else [])]
        record.purposes = list(dict.fromkeys([*purposes, *language_purposes(record, purposes)]))
    return by_dataset


def main_purpose(payload: Mapping[str, Any]) -> str | None:
    """The purpose a model is chosen for: its first specific one ("sentiment"), else its pipeline's
    ("asr", "vlm"), where a chat model's is "chat" rather than "language-model".  ``payload`` is a
    point payload or any mapping with ``purposes`` and ``pipeline_tag``."""
    purposes = [p for p in payload.get("purposes") or [] if ":" not in p]
    specific = next((p for p in purposes if p in SPECIFIC), None)
    if specific is not None:
        return specific
    general = PIPELINE_PURPOSE.get(payload.get("pipeline_tag") or "", payload.get("pipeline_tag"))
    if general == "language-model" and "chat" in purposes:
        return "chat"
    return general if general in purposes else (purposes[0] if purposes else None)
