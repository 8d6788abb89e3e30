"""Family or alternative: how a result relates to the query model, and which results are copies.

**Family** is the query's lineage: its base or parent, children, siblings (another fine-tune or copy of
the same base), size variants and base/instruct pairs of the same release, quantized and format copies.
Everything else a method returns is an **alternative**: another model for the same job.

Build time (:func:`assign_families`) gives each record what the relation needs, as payload fields:

- ``family``: the root of its lineage (its topmost known ancestor; itself when it has none), so a
  parent, a child and a sibling share it;
- ``stem``: its name without size, variant, format, language and version words
  (``Qwen3-4B-Instruct-2507`` -> ``qwen3``, ``whisper-small.en`` -> ``whisper``), so one
  organisation's size variants share it;
- ``copy``: a quantized or format copy (GGUF, AWQ, ONNX, MLX, ...), ``test_copy``: a tiny test model.

Query time (:func:`relation`, :func:`collapse`) reads only the two payloads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from hfmrs.catalog import LANGUAGE_CODES
from hfmrs.sizes import name_tokens, tiny_test_model_size, weight_format

if TYPE_CHECKING:
    from hfmrs.catalog import Catalog, ModelRecord

Relation = Literal["family", "alternative"]
RELATIONS = ("all", "family", "alternatives")

# Words of a name that say which variant or copy of a release it is, not which release.
VARIANT_WORDS = frozenset(
    {
        "instruct", "chat", "it", "base", "hf", "pt", "sft", "dpo", "orpo", "rlhf", "preview", "hybrid",
        "gguf", "ggml", "awq", "gptq", "fp8", "fp16", "bf16", "fp32", "int4", "int8", "4bit", "8bit", "6bit",
        "5bit", "3bit", "2bit", "bnb", "mlx", "onnx", "exl2", "w4a16", "w8a8", "w8a16", "nvfp4", "mxfp4",
        "quantized", "quant", "ct2", "ov", "openvino", "coreml", "tflite", "unsloth", "imatrix", "static",
        "dynamic", "uncased", "cased", "turbo", "q4", "q5", "q6", "q8", "k", "m", "s", "xl", "xxl", "large", "small",
        "medium", "tiny", "mini", "nano", "huge", "giant", "faster", "distil", "distilled",
    }
)  # fmt: skip
# Language names in model names ("wav2vec2-large-xlsr-53-english"): a language variant of one release.
LANGUAGE_NAMES = frozenset(
    {
        "english", "german", "french", "spanish", "italian", "portuguese", "dutch", "russian", "chinese", "japanese",
        "korean", "arabic", "hindi", "turkish", "polish", "swedish", "finnish", "greek", "hungarian", "czech",
        "persian", "vietnamese", "thai", "indonesian", "ukrainian", "romanian", "danish", "norwegian", "hebrew",
        "catalan", "multilingual", "cantonese", "bengali", "tamil", "urdu", "malay", "latvian", "estonian",
    }
)  # fmt: skip
_VERSION = re.compile(r"^v?\d+(?:p\d+)?$")  # 2507, 0528, v1, v0 (numbers alone: versions and dates)
_SIZE_TOKEN = re.compile(r"^\d+(?:\.\d+)?[bmk]$|^\d+x\d+b$|^a\d+b$|^e\d+b$")
FORMAT_LIBRARIES = frozenset({"gguf", "onnx", "transformers.js", "mlx", "openvino", "coreml", "ctranslate2"})
FORMAT_WORDS = frozenset({"gguf", "ggml", "onnx", "mlx", "ct2", "openvino", "ov", "coreml", "tflite", "exl2"})


def name_stem(model_id: str) -> str:
    """The release a name belongs to, without size, variant, format and version words."""
    kept = [
        w
        for w in name_tokens(model_id)
        if w not in VARIANT_WORDS
        and w not in LANGUAGE_CODES
        and w not in LANGUAGE_NAMES
        and not _VERSION.match(w)
        and not _SIZE_TOKEN.match(w)
    ]
    if kept and kept[0] == "meta" and len(kept) > 1:  # "Meta-Llama-3-8B" is Meta's "Llama-3-8B"
        kept = kept[1:]
    return "-".join(kept)


def is_copy(record: ModelRecord) -> bool:
    """A quantized or format copy of another model (its weights, re-encoded)."""
    words = set(name_tokens(record.id))
    if record.library in FORMAT_LIBRARIES or words & FORMAT_WORDS or weight_format(record.id, (), None):
        return True  # the name or the library says so: "...-AWQ", "...-GGUF", an ONNX export
    # Low-precision weights alone do not make a copy: DeepSeek-V3 was trained in FP8 and gpt-oss released
    # in MXFP4.  A declared quantized base does.  (Not the Hub's `base_model:quantized:` tag alone: it is
    # also set on originals; all-MiniLM-L6-v2 has it.)
    return record.weight_format is not None and any(b.relation == "quantized" for b in record.base_models)


def lineage_root(model_id: str, catalog: Catalog, parents: Mapping[str, Sequence[str]], depth: int = 8) -> str:
    """The topmost ancestor reachable through declared parents (in the catalog, or one step outside it)."""
    current = model_id
    for _ in range(depth):
        found = parents.get(current) or ()
        if not found:
            return current
        parent = found[0]
        canonical = catalog.ids.find(parent)
        if canonical is None or canonical == current:
            return parent  # an ancestor outside the catalog: siblings still share it
        current = canonical
    return current


def assign_families(catalog: Catalog, parents: Mapping[str, Sequence[str]]) -> None:
    """Set ``family``, ``stem``, ``copy`` and ``test_copy`` of every record (in place)."""
    names = {r.name.lower() for r in catalog}
    for record in catalog:
        record.family = lineage_root(record.id, catalog, parents)
        record.stem = name_stem(record.id)
        record.copy = is_copy(record)
        # "sshleifer/tiny-distilbert-base-cased-distilled-squad": "tiny-" before another model's name
        shrunk = record.name.lower().removeprefix("tiny-")
        record.test_copy = tiny_test_model_size(record.id) is not None or (
            shrunk != record.name.lower() and shrunk in names
        )


def _name(payload: Mapping[str, Any]) -> str:
    return str(payload.get("id", "")).rsplit("/", 1)[-1].lower()


def _ids(payload: Mapping[str, Any]) -> set[str]:
    return {payload.get("id"), *(payload.get("aliases") or [])}


class RelationTo:
    """``family`` or ``alternative`` for many results of one query: the query's side is prepared once."""

    def __init__(self, query: Mapping[str, Any]):
        self.ids = _ids(query)
        self.bases = set(query.get("base_model_ids") or ())
        self.family = query.get("family")
        self.stem = query.get("stem")
        self.author = query.get("author") or ""
        self.copy = bool(query.get("copy"))
        self.name = _name(query)

    def __call__(self, result: Mapping[str, Any]) -> Relation:
        # Called for every candidate of every request: the result's ids are looked at without making a set.
        r_id, r_aliases, r_bases = result.get("id"), result.get("aliases") or (), result.get("base_model_ids") or ()
        bases = self.bases
        if (
            not self.ids.isdisjoint(r_bases)
            or r_id in bases
            or (bases and any(a in bases for a in r_aliases))
            or not bases.isdisjoint(r_bases)
        ):
            return "family"  # parent, child or sibling
        r_family = result.get("family")
        family = self.family
        if family and (family in (r_family, r_id) or family in r_aliases or r_family in self.ids):
            return "family"  # one lineage tree
        if self.stem and self.stem == result.get("stem"):
            # A legacy single-segment id (gpt2-medium) has no author: it is the original release of its name.
            r_author = result.get("author") or ""
            same_release = self.author == r_author or not self.author or not r_author or self.copy or result.get("copy")
            if same_release or self.name == _name(result):
                return "family"  # a size variant, an instruct/base pair, a copy or a re-upload
        return "alternative"


def relation(query: Mapping[str, Any], result: Mapping[str, Any]) -> Relation:
    """``family`` when the result is of the query's lineage or release, else ``alternative``."""
    return RelationTo(query)(result)


def copy_group(query: Mapping[str, Any], hit: Mapping[str, Any]) -> str | None:
    """What a result is a copy of, as a group key (None: not a copy).  Copies of the query form one group."""
    if hit.get("test_copy"):
        return "test-copies"
    if not hit.get("copy"):
        return None
    q_ids = _ids(query)
    for base in hit.get("base_model_ids") or ():
        return "query" if base in q_ids else f"id:{base}"
    size = hit.get("params_billions")
    key = f"stem:{hit.get('stem')}|{round(size, 1) if size else ''}"
    q_size = query.get("params_billions")
    return "query" if key == f"stem:{query.get('stem')}|{round(q_size, 1) if q_size else ''}" else key


# In `relation=all`, the share of the top k kept for alternatives (when the list has them): a popular
# model's family alone can fill a page (ten Qwen3 sizes), and the Hub's model tree already shows it.
# Measured on the judged set: 0.3 of the top 10 costs graded nDCG@10 under 0.01.
ALTERNATIVES_SHARE = 0.3
ALTERNATIVES_PAGE = 10  # ... of the first page, whatever k is asked: a longer list starts as the short one


def make_room_for_alternatives(
    relations: Sequence[str], k: int = ALTERNATIVES_PAGE, share: float = ALTERNATIVES_SHARE
) -> list[int]:
    """A new order of ranked results (indexes) whose top ``k`` holds at least ``floor(share * k)``
    alternatives (none in a top 3) when the list has them: the best-ranked alternatives below k replace
    the lowest-ranked family results in it; everything else keeps its rank order."""
    top = range(min(k, len(relations)))
    missing = math.floor(share * k + 1e-9) - sum(relations[i] == "alternative" for i in top)
    promoted = [i for i in range(len(top), len(relations)) if relations[i] == "alternative"][: max(missing, 0)]
    if not promoted:
        return list(range(len(relations)))
    dropped = [i for i in reversed(top) if relations[i] == "family"][: len(promoted)]
    chosen = sorted({*top, *promoted} - set(dropped))
    taken = set(chosen)
    return chosen + [i for i in range(len(relations)) if i not in taken]


MAX_SHOWN_COPIES = 2  # copies standing for their group (their original not listed) before the rest


def collapse(
    query: Mapping[str, Any], payloads: Sequence[Mapping[str, Any]], max_copies: int | None = None
) -> list[tuple[int, list[str]]]:
    """Ranked results -> (index of the result that stays, ids of the copies grouped under it), in rank order.

    A copy joins the model it copies when that model is in the list (wherever it ranks), else the
    best-ranked copy of the same model stands for its group; copies of the query model form one group,
    and so do tiny test copies.  With ``max_copies``, groups a copy stands for beyond the first
    ``max_copies`` go after every other result (a list of a popular model is not a list of quantizations).
    """
    keys = [copy_group(query, p) for p in payloads]
    key_of_original = {}
    for i, p in enumerate(payloads):
        if keys[i] is None:
            for model_id in _ids(p):
                key_of_original.setdefault(f"id:{model_id}", i)
            size = p.get("params_billions")
            key_of_original.setdefault(f"stem:{p.get('stem')}|{round(size, 1) if size else ''}", i)
    heads: dict[int, list[str]] = {}
    group_head: dict[str, int] = {}
    for i, p in enumerate(payloads):
        key = keys[i]
        if key is None:
            heads.setdefault(i, [])
            continue
        head = key_of_original.get(key, group_head.get(key))
        if head is None:
            group_head[key] = i
            heads.setdefault(i, [])
        else:
            heads.setdefault(head, []).append(str(p.get("id")))
    ordered = sorted(heads.items())
    if max_copies is None:
        return ordered
    copies = [g for g in ordered if keys[g[0]] is not None]
    later = {i for i, _ in copies[max_copies:]}
    return [g for g in ordered if g[0] not in later] + copies[max_copies:]
