"""Model sizes: a parameter count for every model we can honestly size, and the memory its weights need.

Where a count comes from is part of the fact (``params_source``), best first:

==============  ==========================================================================================
``safetensors``  the Hub's own count of the weights (live ingest)
``listed``       an exact count in a bundled size file (:mod:`hfmrs.facts`: llmfit, Open LLM Leaderboard)
``name``         the name says it: ``7B``, ``1.5b``, ``125m``, ``8x7B``; or a size word of a known family
                 (``bert-base`` 110M, ``whisper-large`` 1.55B: ``data/sizes/family-sizes.csv``)
``lineage``      a quantized, merged, fine-tuned or adapter copy has its parent's size
``family``       the typical size of its model family (a BERT without a size word is a bert-base)
==============  ==========================================================================================

Everything but ``safetensors`` and ``listed`` is an estimate, and says so.  Quantized formats change
the memory per parameter (:data:`QUANTIZED_BYTES_PER_PARAM`: a Q4 GGUF needs ~0.56 bytes, not 2), so
the "fits in N GB" filter (:mod:`hfmrs.filters`) reads two payload fields: ``fp_params_billions`` for
weights you load at a precision of your choice, ``quantized_weights_gb`` for weights stored quantized
(:func:`memory_fields`).
"""

from __future__ import annotations

import csv
import logging
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hfmrs.facts import ListedFacts
from hfmrs.filters import GIB

if TYPE_CHECKING:
    from hfmrs.catalog import Catalog, ModelRecord

log = logging.getLogger(__name__)

PARAMS_SOURCES = ("safetensors", "listed", "name", "lineage", "family")
EXACT_SOURCES = frozenset({"safetensors", "listed"})
FAMILY_TABLE = "family-sizes.csv"

# -- memory -----------------------------------------------------------------------------------------------
# Bytes per parameter of weights stored quantized, scales included.  A GGUF repository holds many
# quantizations; Q4_K_M (~4.5 bits a weight) is the one most people download.  4-bit AWQ/GPTQ/w4a16 keep an
# fp16 scale (and zero) per group of 128 weights; MLX a scale and bias per group of 64 (+0.5 bit).  (Full
# precision at a chosen dtype: hfmrs.filters.BYTES_PER_PARAM, beside the fits filter that reads both.)
QUANTIZED_BYTES_PER_PARAM: dict[str, float] = {
    "gguf": 0.56,
    "awq": 0.53,
    "gptq": 0.53,
    "int4": 0.53,
    "bnb-4bit": 0.55,
    "fp4": 0.56,
    "exl2": 0.56,
    "int8": 1.0,
    "fp8": 1.0,
    "bnb-8bit": 1.0,
    "mlx-3bit": 0.44,
    "mlx-4bit": 0.56,
    "mlx-5bit": 0.69,
    "mlx-6bit": 0.81,
    "mlx-8bit": 1.06,
}


def memory_fields(params: int | None, weight_format: str | None) -> dict[str, float | None]:
    """The payload fields the fits filter reads: exactly one is set for a model of known size."""
    if params is None:
        return {"fp_params_billions": None, "quantized_weights_gb": None}
    if weight_format in QUANTIZED_BYTES_PER_PARAM:
        weights = params * QUANTIZED_BYTES_PER_PARAM[weight_format] / GIB
        return {"fp_params_billions": None, "quantized_weights_gb": round(weights, 4)}
    return {"fp_params_billions": round(params / 1e9, 6), "quantized_weights_gb": None}


def format_params(billions: float | None, source: str | None = None) -> str:
    """``8.19B``, ``125M``, ``60.5M``; ``~`` marks an estimate (a size not read from the weights or a size file)."""
    if billions is None:
        return ""
    number, unit = (billions, "B") if billions >= 0.9995 else (billions * 1000, "M")
    if unit == "M" and number < 0.1:
        number, unit = billions * 1e6, "K"
    text = f"{number:.3g}{unit}"
    return text if source is None or source in EXACT_SOURCES else "~" + text


# -- weight formats ----------------------------------------------------------------------------------------
_WORDS = re.compile(r"[-_./\s]+")
_MLX_BITS = re.compile(r"^(\d)bits?$")


def name_tokens(model_id: str) -> list[str]:
    """``Qwen/Qwen2.5-7B-Instruct-AWQ`` -> ``['qwen2', '5', '7b', 'instruct', 'awq']``: lower-cased name
    words in order, repeats kept (size phrases such as "distil large v3" are matched as runs of words)."""
    return [w for w in _WORDS.split(model_id.rsplit("/", 1)[-1].lower()) if w]


def weight_format(model_id: str, tags: Iterable[str], library: str | None) -> str | None:
    """How the repository stores its weights, when that is quantized (None: full precision, or unknown)."""
    words = set(name_tokens(model_id))
    tagset = {t.lower() for t in tags}
    name = model_id.rsplit("/", 1)[-1].lower()
    if library == "gguf" or "gguf" in tagset or "gguf" in words:
        return "gguf"
    if "exl2" in words or "exl2" in tagset:
        return "exl2"
    if "awq" in words or "awq" in tagset:
        return "awq"
    if "gptq" in words or "gptq" in tagset:
        return "int8" if words & {"int8", "8bit"} else "gptq"
    if words & {"nvfp4", "mxfp4", "fp4"} or tagset & {"nvfp4", "mxfp4"}:
        return "fp4"
    if "fp8" in words or "fp8" in tagset or ("w8a8" in words and "fp8" in name):
        return "fp8"
    if words & {"w4a16", "int4"}:
        return "int4"
    if words & {"w8a8", "w8a16", "int8"}:
        return "int8"
    if library == "mlx" or "mlx" in tagset:
        for word in words:
            if (match := _MLX_BITS.match(word)) and f"mlx-{match.group(1)}bit" in QUANTIZED_BYTES_PER_PARAM:
                return f"mlx-{match.group(1)}bit"
        return None
    if "bnb" in words or "bitsandbytes" in tagset:
        if "4bit" in words or "4-bit" in tagset:
            return "bnb-4bit"
        if "8bit" in words or "8-bit" in tagset:
            return "bnb-8bit"
    return None


# -- sizes from names ------------------------------------------------------------------------------------
# A size in a name: a number with a unit, not glued to letters before it (so "A3B", the active parameters
# of "Qwen3-30B-A3B", "laion2B" and "s34B" are not sizes) and not followed by more letters ("8bit").
# k-units are context lengths ("4k", "128k") and t-units training tokens ("3T"), never sizes; "1_8b" is 1.8B.
_SIZE = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:[._]\d+)?)([bBmM])(?![A-Za-z0-9])")
# "bloomz-7b1" and "bloomd-6b3": BigScience writes 7.1B as 7b1.
_SPLIT_SIZE = re.compile(r"(?<![A-Za-z0-9.])(\d+)[bB](\d)(?![A-Za-z0-9])")
# A size glued to a model family's name: "qwen7b", "llama13b" (but not "laion2B" or "s34B", dataset sizes).
_GLUED_SIZE = re.compile(
    r"(?<![A-Za-z0-9])(?:qwen|llama|mistral|gemma|phi|falcon|pythia|bloom|opt|gpt|yi|mpt|baichuan|internlm)"
    r"(\d+(?:\.\d+)?)([bBmM])(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_MOE = re.compile(r"(?<![A-Za-z0-9.])(\d+)x(\d+(?:\.\d+)?)([bB])(?![A-Za-z0-9])")
_UNITS = {"b": 1e9, "m": 1e6}
# Experts share attention and embeddings: Mixtral 8x7B has 46.7B parameters, not 56B (8x22B: 141B).
MOE_SHARED = 0.82


def params_from_name(model_id: str) -> int | None:
    """The size a model's name states: ``Llama-2-7b-hf`` 7e9, ``Qwen3-30B-A3B`` 30e9, ``opt-125m`` 125e6,
    ``Mixtral-8x7B`` ~46e9.  Billions beat millions (``Qwen2.5-7B-Instruct-1M`` is 7B with a 1M context),
    and the largest of several wins (``OLMoE-1B-7B`` has 7B parameters, 1B of them active)."""
    name = model_id.rsplit("/", 1)[-1]
    if match := _MOE.search(name):
        return int(int(match.group(1)) * float(match.group(2)) * 1e9 * MOE_SHARED)
    found = [(float(m.group(1).replace("_", ".")), m.group(2).lower()) for m in _SIZE.finditer(name)]
    found += [(float(f"{m.group(1)}.{m.group(2)}"), "b") for m in _SPLIT_SIZE.finditer(name)]
    found += [(float(m.group(1)), m.group(2).lower()) for m in _GLUED_SIZE.finditer(name)]
    for unit in ("b", "m"):
        numbers = [number for number, found_unit in found if found_unit == unit and number > 0]
        if numbers:
            return int(max(numbers) * _UNITS[unit])
    return None


@dataclass
class FamilyTable:
    """``data/sizes/family-sizes.csv``: family (model type, diffusers pipeline, library or name word) ->
    size word(s) -> parameters; an empty size word is the family's size when the name has none."""

    variants: dict[str, list[tuple[tuple[str, ...], int]]] = field(default_factory=dict)
    defaults: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> FamilyTable:
        table = cls()
        if path is None or not path.exists():
            return table
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                family = (row.get("family") or "").strip()
                millions = _float(row.get("params_millions"))
                if not family or millions is None:
                    continue
                params = int(millions * 1e6)
                variant = tuple((row.get("variant") or "").lower().split())
                if variant:
                    table.variants.setdefault(family, []).append((variant, params))
                else:
                    table.defaults[family] = params
        for entries in table.variants.values():  # longest size phrase first: "distil large v3" before "large"
            entries.sort(key=lambda e: (-len(e[0]), -len(" ".join(e[0]))))
        return table

    def families(self) -> set[str]:
        return {*self.variants, *self.defaults}

    def variant(self, family: str, words: Sequence[str]) -> int | None:
        for phrase, params in self.variants.get(family, ()):
            if _contains(words, phrase):
                return params
        return None


def _contains(words: Sequence[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1))


def _float(cell: str | None) -> float | None:
    try:
        return float(cell) if cell not in (None, "") else None
    except ValueError:
        return None


# Name words ending in these name a model of that family: "biobert" and "finbert" are BERTs, "kobart" a BART.
SUFFIX_FAMILIES = ("bert", "roberta", "electra", "gpt2", "bart", "t5", "deberta")
ANY_MODEL = "*"  # the table's family for phrases that name one model whatever its type ("mistral nemo")
# The last resort for size words: "-base", "-large", "-small" of an encoder, classifier or vision model whose
# family the table does not know are about the sizes of BERT's and ViT's ("base" ~110M).  Never for
# generative models, where "small" or "mini" can mean anything from 0.5B ("Jan-nano") to 32B ("granite-4.0-h-small").
ENCODER_SIZE_WORDS = "encoder"
GENERATIVE_TASKS = frozenset(
    {
        None,
        "text-generation",
        "image-text-to-text",
        "any-to-any",
        "text2text-generation",
        "visual-question-answering",
        "image-to-text",
        "text-to-image",
        "image-to-image",
        "text-to-video",
        "image-to-video",
        "text-to-audio",
        "text-to-speech",
        "audio-text-to-text",
    }
)


def family_keys(record: ModelRecord, table: FamilyTable) -> list[str]:
    """The families a model may belong to, most specific first: its model type, its diffusers pipeline,
    its library, its tags (longest first: "stable-diffusion-xl" before "stable-diffusion"), any name word
    that names a family ("whisper" in "faster-whisper-large-v3") or ends in one ("biobert"), then ``*``."""
    known = table.families()
    words = name_tokens(record.id)
    keys = [record.model_type or ""]
    keys += [t.split(":", 1)[1] for t in record.tags if t.startswith("diffusers:")]
    keys.append(record.library or "")
    keys += sorted((t for t in record.tags if t in known), key=len, reverse=True)
    keys += [w for w in words if w in known]
    keys += [f for w in words for f in SUFFIX_FAMILIES if w.endswith(f) and w != f]
    keys.append(ANY_MODEL)
    if record.pipeline_tag not in GENERATIVE_TASKS:
        keys.append(ENCODER_SIZE_WORDS)
    return [k for k in dict.fromkeys(keys) if k in known]


# Test fixtures ("tiny-random-LlamaForCausalLM", "tiny-dummy-qwen2") are random weights with hidden sizes of
# a few dozen: a few hundred thousand to a few million parameters whatever the architecture.
TINY_TEST_PARAMS = 2_000_000
_TEST_WORDS = frozenset({"random", "dummy", "testing", "test"})


def tiny_test_model_size(model_id: str) -> int | None:
    """A tiny test model's size, when its name or owner says it is one."""
    words = set(name_tokens(model_id.replace("-", "_").replace("_", "-")))
    owner = model_id.split("/", 1)[0].lower() if "/" in model_id else ""
    words |= set(name_tokens(owner))
    tiny = any(w.startswith("tiny") for w in words)
    test_owner = owner.endswith("-testing") or owner == "hf-tiny-model-private"
    if tiny and (words & _TEST_WORDS or test_owner):
        return TINY_TEST_PARAMS
    return None


# -- the estimator ---------------------------------------------------------------------------------------
# A family's typical size is learned when one size dominates its sized models: at least this many, and
# this share within +-15 % of their median (a Mistral without a size in its name is a 7B).
LEARN_MIN_MODELS = 10
LEARN_MIN_SHARE = 0.7


@dataclass
class SizeReport:
    """How many models got a size from each source (for the build manifest and the data README)."""

    models: int
    by_source: dict[str, int]
    popular: int  # models with >= POPULAR_DOWNLOADS downloads
    popular_sized: int
    learned_families: dict[str, int] = field(default_factory=dict)

    @property
    def sized(self) -> int:
        return sum(self.by_source.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "models": self.models,
            "sized": self.sized,
            "by_source": self.by_source,
            "popular_downloads": POPULAR_DOWNLOADS,
            "popular": self.popular,
            "popular_sized": self.popular_sized,
            "learned_families": self.learned_families,
        }


POPULAR_DOWNLOADS = 10_000
_NO_FACTS = ListedFacts()


def estimate_sizes(
    catalog: Catalog,
    listed: dict[str, ListedFacts],
    parents: dict[str, list[str]],
    table: FamilyTable,
) -> SizeReport:
    """Give every record a ``params`` and ``params_source`` where one can be had (in place).

    ``parents`` maps a canonical id to the ids it was derived from (any form: catalog ids resolve
    through aliases; others are looked up in ``listed`` or read from their names).  Passes run best
    source first, so a model takes the most trustworthy size available:
    exact (safetensors, listed) -> an exact parent's -> numeric name -> lineage -> family size word ->
    lineage -> family default -> lineage -> a listed count of packed quantized tensors.
    """
    sizes = _Estimator(catalog, listed, parents)
    sizes.inherit(exact_only=True)  # Qwen3-8B-GGUF: its parent's exact 8.19B beats the "8B" of its name
    sizes.set_all("name", lambda r: params_from_name(r.id) or tiny_test_model_size(r.id))
    sizes.inherit()
    sizes.set_all("name", lambda r: _variant_size(r, table))
    sizes.inherit()
    learned = learn_family_sizes(sizes.records, table)
    defaults = {**learned, **table.defaults}

    def family_default(record: ModelRecord) -> int | None:
        keys = [*family_keys(record, table), *([task_family(record)] if not record.model_type else [])]
        return next((defaults[k] for k in keys if k in defaults), None)

    sizes.set_all("family", family_default)
    sizes.inherit()
    sizes.set_all("listed", lambda r: sizes.packed.get(r.id))
    return size_report(sizes.records, learned)


class _Estimator:
    """The records being sized, the exact counts found first, and the passes over them."""

    def __init__(self, catalog: Catalog, listed: dict[str, ListedFacts], parents: dict[str, list[str]]):
        self.catalog, self.listed, self.parents = catalog, listed, parents
        self.records = list(catalog)
        self.packed: dict[str, int] = {}  # listed counts of quantized repositories: the last resort
        for record in self.records:
            record.weight_format = record.weight_format or weight_format(record.id, record.tags, record.library)
            if record.params_source != "safetensors":
                record.params, record.params_source = None, None
            elif record.params is not None:
                continue
            facts = next((listed[i] for i in (record.id, *record.aliases) if listed.get(i, _NO_FACTS).params), None)
            if facts is None or facts.params is None:
                continue
            if facts.params_from == "llmfit" and record.weight_format is not None:
                # Counted from quantized files: 4-bit tensors packed into int32, or one shard of a GGUF
                # repository (unsloth/gpt-oss-20b-GGUF lists 1.8B), so a fraction of the real size.
                self.packed[record.id] = facts.params
                continue
            record.params, record.params_source = facts.params, "listed"

    def set_all(self, source: str, size_of: Callable[[ModelRecord], int | None]) -> None:
        for record in self.records:
            if record.params is None and (params := size_of(record)) is not None:
                record.params, record.params_source = params, source

    def parent_size(self, parent_id: str) -> int | None:
        canonical = self.catalog.ids.find(parent_id)
        if canonical is not None:
            return self.catalog.records[canonical].params
        # A parent outside the catalog: its listed count (unless packed), else what its name says.
        facts = self.listed.get(parent_id, _NO_FACTS)
        unpacked = facts.params_from != "llmfit" or weight_format(parent_id, (), None) is None
        return facts.params if facts.params is not None and unpacked else params_from_name(parent_id)

    def parent_is_exact(self, parent_id: str) -> bool:
        canonical = self.catalog.ids.find(parent_id)
        if canonical is not None:
            return self.catalog.records[canonical].params_source in EXACT_SOURCES
        return parent_id in self.listed and self.parent_size(parent_id) == self.listed[parent_id].params

    def inherit(self, exact_only: bool = False) -> None:
        """A copy takes its parent's size; repeated, so chains (a GGUF of a fine-tune of a base) resolve."""
        for _ in range(6):
            changed = 0
            for record in self.records:
                if record.params is not None:
                    continue
                for parent in self.parents.get(record.id, ()):
                    if exact_only and not self.parent_is_exact(parent):
                        continue
                    if (params := self.parent_size(parent)) is not None:
                        record.params, record.params_source = params, "lineage"
                        changed += 1
                        break
            if not changed or exact_only:  # an exact parent's own size is never inherited, so one pass
                return


def size_report(records: Sequence[ModelRecord], learned: dict[str, int]) -> SizeReport:
    by_source = Counter(r.params_source for r in records if r.params is not None)
    popular = [r for r in records if r.downloads >= POPULAR_DOWNLOADS]
    report = SizeReport(
        models=len(records),
        by_source={s: by_source.get(s, 0) for s in PARAMS_SOURCES},
        popular=len(popular),
        popular_sized=sum(1 for r in popular if r.params is not None),
        learned_families=learned,
    )
    log.info(
        "sizes: %d of %d models (%.1f %%); %d of %d with >= %d downloads; by source %s",
        report.sized,
        report.models,
        100 * report.sized / max(report.models, 1),
        report.popular_sized,
        report.popular,
        POPULAR_DOWNLOADS,
        report.by_source,
    )
    return report


def _variant_size(record: ModelRecord, table: FamilyTable) -> int | None:
    words = name_tokens(record.id)
    for key in family_keys(record, table):
        if (params := table.variant(key, words)) is not None:
            return params
    return None


def task_family(record: ModelRecord) -> str | None:
    """The coarsest family: library and task ("diffusers|text-to-image": mostly Stable Diffusion 1.5 copies)."""
    return f"{record.library}|{record.pipeline_tag}" if record.library and record.pipeline_tag else None


def learn_family_sizes(records: Sequence[ModelRecord], table: FamilyTable) -> dict[str, int]:
    """Families mostly of one size -> that size (see :data:`LEARN_MIN_SHARE`): model types, and library|task
    pairs for models with no model type."""
    sizes: dict[str, list[int]] = defaultdict(list)
    for record in records:
        if record.params is None:
            continue
        if record.model_type:
            sizes[record.model_type].append(record.params)
        elif key := task_family(record):
            sizes[key].append(record.params)
    learned = {}
    for family, values in sizes.items():
        if family in table.defaults or len(values) < LEARN_MIN_MODELS:
            continue
        median = statistics.median(values)
        near = sum(1 for v in values if abs(v - median) <= 0.15 * median)
        if near / len(values) >= LEARN_MIN_SHARE:
            learned[family] = int(median)
    return learned
