"""Features of a model: the text soup that gets embedded, and the token set behind Jaccard and BM25.

Both are derived from a :class:`~hfmrs.catalog.ModelRecord` only, so they can be recomputed (and
their hashes compared) whenever the catalog changes.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable

from hfmrs.catalog import LANGUAGE_CODES, ModelRecord

# Bump when the soup or token recipe changes: cached vectors keyed on the old recipe are then ignored.
FEATURE_VERSION = "2"

# Tags that say nothing about what a model is (hosting, inference plumbing, Hub bookkeeping).
NOISE_TAGS = frozenset(
    {
        "region:us",
        "region:eu",
        "endpoints_compatible",
        "autotrain_compatible",
        "has_space",
        "text-generation-inference",
        "text-embeddings-inference",
        "model-index",
        "custom_code",
        "inference_endpoints",
        "deploy:azure",
        "safetensors",
        "pytorch",
        "tf",
        "jax",
        "rust",
        "tensorboard",
        "generated_from_trainer",
        "generated_from_keras_callback",
        "co2_eq_emissions",
        "exbert",
        "tflite",
        "coreml",
        "onnx",
        "4-bit",
        "8-bit",
        "bitsandbytes",
        "awq",
        "gptq",
    }
)
# Tag prefixes already represented by a structured field, or pure bookkeeping.
_STRUCTURED_PREFIXES = ("dataset:", "license:", "base_model:", "arxiv:", "doi:", "region:", "diffusers:", "deploy:")
_NAME_SPLIT = re.compile(r"[-_./\s]+")


def descriptive_tags(record: ModelRecord) -> list[str]:
    """Tags that describe the model, minus noise, structured facts and fields listed elsewhere."""
    covered = {record.pipeline_tag, record.library, record.model_type, *record.languages}
    return [
        t
        for t in record.tags
        if t not in NOISE_TAGS
        and t not in covered
        and t not in LANGUAGE_CODES
        and not t.startswith(_STRUCTURED_PREFIXES)
    ]


def name_words(model_id: str) -> list[str]:
    """``openai-community/gpt2-medium`` -> ``['gpt2', 'medium']`` (the name part, split on punctuation)."""
    name = model_id.rsplit("/", 1)[-1].lower()
    return [w for w in dict.fromkeys(_NAME_SPLIT.split(name)) if w]


def _words(values: Iterable[str | None]) -> list[str]:
    return [v.replace("-", " ") for v in values if v]


def soup(record: ModelRecord) -> str:
    """The text the encoder embeds: short, de-duplicated, most telling fields first.

    Field order matters because the encoder truncates long soups: name, task, library, architecture
    and model type come before the long tail of tags.
    """
    parts = [
        " ".join(name_words(record.id)),
        *_words([record.pipeline_tag, record.library]),
        *record.architectures,
        record.model_type or "",
        *(f"base {b.id.rsplit('/', 1)[-1]}" for b in record.base_models),
        *_words(descriptive_tags(record)),
        *(f"dataset {d.rsplit('/', 1)[-1]}" for d in record.datasets),
        *record.languages,
        f"by {record.author}" if record.author else "",
    ]
    seen: set[str] = set()
    words: list[str] = []
    for word in " ".join(p for p in parts if p).split():
        key = word.lower()
        if key not in seen:  # de-duplicate words: shorter soups embed faster and lose nothing
            seen.add(key)
            words.append(word)
    return " ".join(words)


def tokens(record: ModelRecord) -> list[str]:
    """The model's feature tokens, typed (``task:``, ``arch:``, ...) so equal words in different
    fields stay different.  The set behind Jaccard and the sparse vector; sorted for stability."""
    single = {
        "task": record.pipeline_tag,
        "lib": record.library,
        "type": record.model_type,
        "license": record.license,
        "author": record.author,
    }
    items = {f"{kind}:{value}" for kind, value in single.items() if value}
    items.update(f"name:{w}" for w in name_words(record.id))
    items.update(f"arch:{a}" for a in record.architectures)
    items.update(f"base:{b.id}" for b in record.base_models)
    items.update(f"tag:{t}" for t in descriptive_tags(record))
    items.update(f"data:{d}" for d in record.datasets)
    items.update(f"lang:{x}" for x in record.languages)
    items.update(f"arxiv:{a}" for a in record.arxiv)
    return sorted(items)


def token_index(token: str) -> int:
    """A stable 31-bit index for a token: the sparse vector's dimension for it (crc32 is stable
    across processes, unlike ``hash``)."""
    return zlib.crc32(token.encode("utf-8")) & 0x7FFFFFFF


def sparse_tokens(token_list: Iterable[str]) -> tuple[list[int], list[float]]:
    """Binary sparse vector of a token set; dot products of two such vectors count shared tokens."""
    indices = sorted({token_index(t) for t in token_list})
    return indices, [1.0] * len(indices)


def lexical_text(soup_text: str, author: str | None) -> str:
    """The text BM25 indexes: the soup, with the author written as one token.

    BM25's tokenizer splits on punctuation, so ``openai-community`` would match every
    ``*-community`` uploader through the frequent word "community"; ``openaicommunity`` matches only
    the uploader itself.
    """
    if not author:
        return soup_text
    return soup_text.removesuffix(f" by {author}") + " by " + re.sub(r"[^0-9A-Za-z]+", "", author)


def soup_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()
