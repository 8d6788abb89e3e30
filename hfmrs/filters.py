"""Query filters, declared once.

:data:`FIELDS` is the one table of filter fields: name, type, help, validation, the Qdrant condition a
value becomes (in a neutral form, :data:`Condition`) and the payload indexes that condition needs.
Everything else is generated or driven from it:

- :class:`Filters`, the value object every layer passes around (``Filters(pipeline_tag="fill-mask")``);
- both store adapters translate :meth:`Filters.conditions` (``hfmrs.store.edge`` / ``hfmrs.store.server``)
  and create exactly the indexes of :func:`payload_indexes`;
- the API's query parameters (``services/recommender/deps.py``), the CLI's options (``hfmrs.cli``) and
  the web UI's controls (``services/ui``) are made from the table.

A new filter is one :class:`FilterField` here (and, where it needs one, a payload field written by the
build).  The memory rule behind "fits in N GB" lives here too, beside the field that uses it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# -- conditions: what a filter value becomes, before an adapter turns it into qdrant-edge or qdrant-client


@dataclass(frozen=True)
class Match:
    """The payload field equals ``value``."""

    key: str
    value: str | int


@dataclass(frozen=True)
class Range:
    """The payload field is within [gte, lte] (a missing field never is)."""

    key: str
    gte: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class AnyOf:
    """At least one of the conditions holds."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class IsEmpty:
    """The payload field is missing, null or empty."""

    key: str


Condition = Match | Range | AnyOf | IsEmpty


def holds(condition: Condition, payload: Mapping[str, Any]) -> bool:
    """A condition evaluated in Python: the reference the Qdrant translations are tested against."""
    if isinstance(condition, Match):  # a list field matches when any element does, as in Qdrant
        value = payload.get(condition.key)
        return condition.value in value if isinstance(value, list) else value == condition.value
    if isinstance(condition, Range):
        value = payload.get(condition.key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return (condition.gte is None or value >= condition.gte) and (condition.lte is None or value <= condition.lte)
    if isinstance(condition, AnyOf):
        return any(holds(c, payload) for c in condition.conditions)
    return payload.get(condition.key) in (None, [], "")


# -- the memory rule ---------------------------------------------------------------------------------------
# Bytes one parameter takes in memory at each precision full-precision weights may be loaded at.
BYTES_PER_PARAM: dict[str, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
# Weights are not all a model needs: activations, the KV cache and the CUDA context add about a fifth on
# top for inference at modest batch and context sizes (the usual rule of thumb: memory ~= 1.2 x weights).
MEMORY_OVERHEAD = 1.2
GIB = 1024**3  # "24 GB" cards hold 24 GiB; sizes are read as binary gigabytes
Dtype = Literal["fp32", "fp16", "bf16", "int8", "int4"]


def params_limit_for_memory(gb: float, dtype: Dtype = "fp16", overhead: float = MEMORY_OVERHEAD) -> float:
    """Billions of parameters whose weights fit in ``gb`` GiB at ``dtype``, with ``overhead`` for activations.

    ``params_limit_for_memory(24, "fp16")`` is about 10.7: a 7B model fits a 24 GB card in fp16, a 13B one
    does not (it needs int8).
    """
    if dtype not in BYTES_PER_PARAM:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of: {', '.join(BYTES_PER_PARAM)}")
    _check_gb(gb)
    if overhead < 1:
        raise ValueError(f"overhead must be at least 1, got {overhead!r}")
    return round(gb * GIB / (BYTES_PER_PARAM[dtype] * overhead) / 1e9, 3)


def quantized_limit_for_memory(gb: float, overhead: float = MEMORY_OVERHEAD) -> float:
    """The largest ``quantized_weights_gb`` that fits in ``gb`` GiB (the format fixes the bytes, not a dtype)."""
    _check_gb(gb)
    return round(gb / overhead, 3)


def _check_gb(gb: float) -> None:
    if not isinstance(gb, (int, float)) or isinstance(gb, bool) or not math.isfinite(gb) or gb <= 0:
        raise ValueError(f"memory must be a positive number of GB, got {gb!r}")


# -- the field table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    """A payload index a condition needs: ``kind`` keyword, integer or float; integer indexes hold only the
    structure they are queried with (Qdrant builds and loads both by default)."""

    key: str
    kind: Literal["keyword", "integer", "float"]
    lookup: bool = True
    range: bool = True


@dataclass(frozen=True)
class FilterField:
    """One filter: what it is called everywhere, its type and bounds, and the condition a value becomes."""

    name: str
    type: type
    help: str
    label: str  # the web UI's label
    # value, all filter values -> the condition (None: the field only modifies another, as dtype does)
    condition: Callable[[Any, Filters], Condition | None]
    indexes: tuple[Index, ...] = ()
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()  # the only values accepted
    default: Any = None
    public: bool = True  # an API query parameter and a CLI option; False: internal (counting only)
    cli_names: tuple[str, ...] = ()  # extra CLI spellings ("--task")
    ui: str | None = "text"  # the web UI's control: "text" (suggestions, any value), "number", "choice"; None: none
    suggestions: tuple[Any, ...] = ()  # the UI's suggested values (any value may be typed unless ui="choice")
    reads_size: bool = False  # the condition reads a model's size (models of unknown size never match)

    def validate(self, value: Any) -> Any:
        """``value`` checked against the type and bounds, or a ValueError that names the field."""
        if value is None:
            return None
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false, got {value!r}")
            return value
        if self.type is tuple:  # a (low, high) pair of numbers
            if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
                raise ValueError(f"{self.name} must be a (low, high) pair of numbers, got {value!r}")
            return value
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"{self.name} must be text, got {value!r}")
            if self.max_length is not None and len(value) > self.max_length:
                raise ValueError(f"{self.name} is longer than {self.max_length} characters")
            if self.choices and value not in self.choices:
                raise ValueError(f"unknown {self.name} {value!r}; choose one of: {', '.join(self.choices)}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{self.name} must be a number, got {value!r}")
        if self.type is int:
            if value != int(value):
                raise ValueError(f"{self.name} must be a whole number, got {value!r}")
            value = int(value)
        for bound, ok, word in (
            (self.ge, lambda b: value >= b, "at least"),
            (self.gt, lambda b: value > b, "more than"),
            (self.le, lambda b: value <= b, "at most"),
        ):
            if bound is not None and not ok(bound):
                raise ValueError(f"{self.name} must be {word} {bound:g}, got {value!r}")
        return value


def _match(key: str) -> Callable[[Any, Filters], Condition]:
    return lambda value, _: Match(key, value)


def _fits(gb: float, filters: Filters) -> Condition:
    # Full-precision weights cost what the dtype they are loaded at costs; quantized repositories (GGUF,
    # AWQ, ...) what their own format does: hfmrs.sizes.memory_fields sets exactly one of these two fields.
    return AnyOf(
        (
            Range("fp_params_billions", lte=params_limit_for_memory(gb, filters.dtype)),
            Range("quantized_weights_gb", lte=quantized_limit_for_memory(gb)),
        )
    )


TASKS = (
    "text-generation",
    "text-classification",
    "token-classification",
    "fill-mask",
    "question-answering",
    "summarization",
    "translation",
    "text2text-generation",
    "sentence-similarity",
    "feature-extraction",
    "automatic-speech-recognition",
    "audio-classification",
    "text-to-speech",
    "image-classification",
    "object-detection",
    "image-segmentation",
    "text-to-image",
    "image-to-text",
    "image-text-to-text",
    "zero-shot-classification",
    "time-series-forecasting",
    "reinforcement-learning",
)
LIBRARIES = (
    "transformers",
    "sentence-transformers",
    "diffusers",
    "timm",
    "peft",
    "gguf",
    "mlx",
    "adapter-transformers",
    "spacy",
    "flair",
    "stable-baselines3",
    "ml-agents",
    "keras",
    "onnx",
    "fasttext",
)
# Licences whose terms allow commercial use (some with conditions: the OpenRAIL use restrictions, Llama's
# 700M-monthly-users clause, Gemma's prohibited uses).  "other" and unknown licences are left out: a user who
# asks for commercial use must not be handed a research-only model.
COMMERCIAL_LICENSES = (
    "apache-2.0",
    "mit",
    "bsd",
    "bsd-2-clause",
    "bsd-3-clause",
    "isc",
    "unlicense",
    "cc0-1.0",
    "cc-by-2.0",
    "cc-by-3.0",
    "cc-by-4.0",
    "cc-by-sa-3.0",
    "cc-by-sa-4.0",
    "odc-by",
    "pddl",
    "mpl-2.0",
    "artistic-2.0",
    "afl-3.0",
    "ecl-2.0",
    "wtfpl",
    "zlib",
    "cdla-permissive-2.0",
    "openrail",
    "openrail++",
    "creativeml-openrail-m",
    "bigscience-openrail-m",
    "bigcode-openrail-m",
    "llama2",
    "llama3",
    "llama3.1",
    "llama3.2",
    "llama3.3",
    "llama4",
    "gemma",
)
# Weight formats and runtimes a model ships for (the payload's `formats`, hfmrs.catalog.model_formats).
FORMATS = (
    "gguf",
    "onnx",
    "mlx",
    "transformers.js",
    "openvino",
    "coreml",
    "tflite",
    "awq",
    "gptq",
    "exl2",
    "ctranslate2",
)
LICENSES = ("apache-2.0", "mit", "openrail", "creativeml-openrail-m", "cc-by-4.0", "cc-by-nc-4.0", "llama2", "other")

FIELDS: tuple[FilterField, ...] = (
    FilterField(
        "pipeline_tag",
        str,
        "Only models with this pipeline tag (task).",
        "Task",
        _match("pipeline_tag"),
        (Index("pipeline_tag", "keyword"),),
        max_length=200,
        cli_names=("--task",),
        suggestions=TASKS,
    ),
    FilterField(
        "library",
        str,
        "Only models of this library.",
        "Library",
        _match("library"),
        (Index("library", "keyword"),),
        max_length=200,
        suggestions=LIBRARIES,
    ),
    FilterField(
        "license",
        str,
        "Only models under this license.",
        "License",
        _match("license"),
        (Index("license", "keyword"),),
        max_length=200,
        suggestions=LICENSES,
    ),
    FilterField(
        "author",
        str,
        "Only models by this author (user or organisation).",
        "Author",
        _match("author"),
        (Index("author", "keyword"),),
        max_length=200,
    ),
    FilterField(
        "language",
        str,
        "Only models whose card lists this language (ISO 639-1 code such as de, ja; or multilingual).",
        "Language",
        lambda value, _: Match("languages", value),
        (Index("languages", "keyword"),),
        max_length=20,
        suggestions=("en", "de", "fr", "es", "zh", "ja", "ko", "ru", "ar", "multilingual"),
    ),
    FilterField(
        "format",
        str,
        "Only models shipped in this format or for this runtime (gguf, onnx, mlx, transformers.js, awq, gptq, ...).",
        "Format",
        lambda value, _: Match("formats", value),
        (Index("formats", "keyword"),),
        max_length=50,
        suggestions=FORMATS,
    ),
    FilterField(
        "commercial",
        bool,
        "Only models whose licence allows commercial use (Apache, MIT, BSD, CC-BY, OpenRAIL, Llama, Gemma, ...).",
        "Commercial use",
        lambda value, _: AnyOf(tuple(Match("license", name) for name in COMMERCIAL_LICENSES)) if value else None,
        (Index("license", "keyword"),),
        ui=None,
    ),
    FilterField(
        "purpose",
        str,
        "Only models for this purpose (sentiment, emotion, ner, nli, embeddings, asr, asr:en, translation:en-de, "
        "chat, code, ...; GET /v1/models/{id} lists a model's).",
        "Purpose",
        lambda value, _: Match("purposes", value),
        (Index("purposes", "keyword"),),
        max_length=100,
        suggestions=("sentiment", "emotion", "ner", "nli", "embeddings", "reranking", "asr", "tts", "chat", "code"),
    ),
    FilterField(
        "min_downloads",
        int,
        "Only models with at least this many downloads.",
        "Minimum downloads",
        lambda value, _: Range("downloads", gte=value),
        (Index("downloads", "integer", lookup=False),),
        ge=0,
        le=10**12,
        ui="number",
    ),
    FilterField(
        "cluster",
        int,
        "Only models in this k-means cluster (builds with training).",
        "Cluster",
        _match("cluster"),
        (Index("cluster", "integer", range=False),),
        ge=0,
        le=10**6,
        ui=None,
    ),
    FilterField(
        "max_params_billions",
        float,
        "Only models with at most this many billion parameters (models of unknown size are left out).",
        "At most (billion parameters)",
        lambda value, _: Range("params_billions", lte=value),
        (Index("params_billions", "float"),),
        gt=0,
        le=100_000,
        ui="number",
        reads_size=True,
    ),
    FilterField(
        "fits_in_gb",
        float,
        "Only models whose weights, plus 20 % for activations, fit in this many GB: full-precision weights at "
        "`dtype`, quantized repositories (GGUF, AWQ, GPTQ, ...) at their own format; models of unknown size are "
        "left out and counted.",
        "Fits in (GB)",
        _fits,
        (Index("fp_params_billions", "float"), Index("quantized_weights_gb", "float")),
        gt=0,
        le=100_000,
        ui="choice",
        suggestions=(4, 8, 16, 24, 48, 80),
        reads_size=True,
    ),
    FilterField(
        "dtype",
        str,
        "Precision full-precision weights are loaded at, for fits_in_gb (bytes per parameter: fp32 4, fp16 and "
        "bf16 2, int8 1, int4 0.5).",
        "at precision",
        lambda value, _: None,
        choices=tuple(BYTES_PER_PARAM),
        default="fp16",
        ui="choice",
        suggestions=tuple(BYTES_PER_PARAM),
    ),
    FilterField(
        "size_band",
        tuple,
        "Only models of a size between two numbers of billion parameters (similar-size candidates).",
        "Size band",
        lambda value, _: Range("params_billions", gte=value[0], lte=value[1]),
        (Index("params_billions", "float"),),
        public=False,
        ui=None,
        reads_size=True,
    ),
    FilterField(
        "family",
        str,
        "Only models of this lineage family (the root a model's `family` payload field names).",
        "Family",
        lambda value, _: Match("family", value),
        (Index("family", "keyword"),),
        max_length=300,
        public=False,
        ui=None,
    ),
    FilterField(
        "size_unknown",
        bool,
        "Only models whose size is unknown (counts what a size filter leaves out).",
        "Size unknown",
        lambda value, _: IsEmpty("params_billions") if value else None,
        (Index("params_billions", "float"),),
        public=False,
        ui=None,
    ),
)


def size_filters(
    at_most_billions: float | None = None, memory_gb: float | None = None, band: tuple[float, float] | None = None
) -> dict[str, Any]:
    """Filter values for a size read from words (:mod:`hfmrs.need`): at most a number of billion parameters
    (else a band around one), and fitting a memory in GB."""
    values: dict[str, Any] = {}
    if memory_gb is not None and memory_gb > 0:
        values["fits_in_gb"] = memory_gb
    if at_most_billions is not None and at_most_billions > 0:
        values["max_params_billions"] = round(at_most_billions, 6)
    elif band is not None and band[1] > 0:
        values["size_band"] = (round(band[0], 6), round(band[1], 6))
    return values


def field_named(name: str) -> FilterField:
    for candidate in FIELDS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def public_fields() -> list[FilterField]:
    """The fields the API, the CLI and (where ``ui`` is set) the web UI offer."""
    return [f for f in FIELDS if f.public]


def payload_indexes() -> list[Index]:
    """Every payload index a filter condition needs, once each."""
    seen: dict[str, Index] = {}
    for f in FIELDS:
        for index in f.indexes:
            seen.setdefault(index.key, index)
    return list(seen.values())


class Filters:
    """Filter values, validated against :data:`FIELDS`, plus the canonical ids never returned.

    ``Filters(pipeline_tag="fill-mask", min_downloads=1000)``; a field's value is ``filters.<name>``
    (its default when unset).  Immutable and hashable.
    """

    __slots__ = ("_values", "exclude")

    def __init__(self, exclude: Iterable[str] = (), **values: Any):
        known = {f.name: f for f in FIELDS}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TypeError(f"unknown filter {unknown[0]!r}; filters are: {', '.join(known)}")
        checked = {name: known[name].validate(value) for name, value in values.items()}
        defaults = {f.name: f.default for f in FIELDS}
        object.__setattr__(self, "_values", {k: v for k, v in checked.items() if v != defaults[k]})
        object.__setattr__(self, "exclude", tuple(dict.fromkeys(exclude)))
        for f in FIELDS:  # a condition that cannot be made (fits_in_gb at an unknown dtype) fails here
            if f.name in self._values:
                f.condition(self._values[f.name], self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values.get(name, field_named(name).default)
        except KeyError:
            raise AttributeError(f"Filters has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Filters is immutable; use replace()")

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle through the constructor (slots, no __dict__)
        return (_rebuild, (self.exclude, self._values))

    @property
    def values(self) -> dict[str, Any]:
        """The fields set to something other than their default."""
        return dict(self._values)

    def _key(self) -> tuple[Any, ...]:
        return (tuple(sorted(self._values.items())), self.exclude)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filters) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self._values.items()]
        parts += [f"exclude={self.exclude!r}"] if self.exclude else []
        return f"Filters({', '.join(parts)})"

    def replace(self, **changes: Any) -> Filters:
        exclude = changes.pop("exclude", self.exclude)
        return Filters(exclude, **{**self._values, **changes})

    def with_exclude(self, *model_ids: str) -> Filters:
        return Filters((*self.exclude, *model_ids), **self._values)

    @property
    def sized(self) -> bool:
        """Whether a condition reads the model's size (so models of unknown size are left out)."""
        return any(f.reads_size and f.name in self._values for f in FIELDS)

    def without_size(self) -> Filters:
        """The same conditions without those on size."""
        kept = {k: v for k, v in self._values.items() if not field_named(k).reads_size and k != "size_unknown"}
        return Filters(self.exclude, **kept)

    def for_purpose(self, purpose: str, popular: int | None = None) -> Filters:
        """The same conditions for models of ``purpose``, with at least ``popular`` downloads if given."""
        values: dict[str, Any] = {"purpose": purpose}
        if popular is not None:
            values["min_downloads"] = max(self.min_downloads or 0, popular)
        return self.replace(**values)

    def with_size_between(self, low: float, high: float) -> Filters:
        """The same conditions, and a size between ``low`` and ``high`` billion parameters."""
        return self.replace(size_band=(round(low, 6), round(high, 6)))

    def only_unknown_size(self) -> Filters:
        """The same conditions, size ones aside, for models whose size is unknown (what a size filter leaves out)."""
        return self.without_size().replace(size_unknown=True)

    def conditions(self) -> list[Condition]:
        """The conditions every match must satisfy (the excluded ids aside)."""
        made = (f.condition(self._values[f.name], self) for f in FIELDS if f.name in self._values)
        return [c for c in made if c is not None]

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """The same conditions evaluated in Python (for reference implementations and tests)."""
        return payload.get("id") not in self.exclude and all(holds(c, payload) for c in self.conditions())


def _rebuild(exclude: tuple[str, ...], values: dict[str, Any]) -> Filters:
    return Filters(exclude, **values)
