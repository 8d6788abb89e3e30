"""The model catalog: Hub snapshot rows normalised into one record per model.

Data flows one way: snapshot files -> :class:`ModelRecord` -> :class:`Catalog` (merged, with
aliases) -> Qdrant payloads (see :mod:`hfmrs.pipeline`).  Nothing here talks to Qdrant.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hfmrs.ids import IdIndex, UnknownModelError

__all__ = ["BaseModel", "Catalog", "ModelRecord", "UnknownModelError", "load_catalog"]

log = logging.getLogger(__name__)

# Relations a model can have to its base model, as the Hub's `base_model:<relation>:<id>` tags spell them.
BASE_RELATIONS = ("finetune", "quantized", "merge", "adapter")

# Library names the Hub writes as plain tags; the 2024 snapshot has no library_name column.
KNOWN_LIBRARIES = (
    "transformers",
    "diffusers",
    "sentence-transformers",
    "timm",
    "peft",
    "gguf",
    "ml-agents",
    "fairseq",
    "spacy",
    "flair",
    "ultralytics",
    "speechbrain",
    "yolov5",
    "open_clip",
    "espnet",
    "stanza",
    "nemo",
    "keras",
    "tf-keras",
    "stable-baselines3",
    "pyannote-audio",
    "pysentimiento",
    "asteroid",
    "ctranslate2",
    "adapter-transformers",
    "txtai",
    "span-marker",
    "span_marker",
    "sklearn",
    "scikit-learn",
    "doctr",
    "mlx",
    "onnx",
    "transformers.js",
    "setfit",
    "fastai",
    "paddlenlp",
    "allennlp",
    "fasttext",
    "pythae",
    "sample-factory",
    "audiocraft",
    "k2",
    "bertopic",
    "openvino",
    "gliner",
    "llamafile",
    "mlc-llm",
    "coreml",
    "tensorrt",
    "tflite",
    "unity-sentis",
    "pyannote",
    "mindspore",
    "paddleocr",
    "nemo-toolkit",
    "chronos-forecasting",
    "colpali",
    "model2vec",
    "flair",
    "jax",
    "joblib",
)
# Framework/format tags that say how weights are stored, not what library runs them: a library only
# when nothing better is known, and in that order.
FORMAT_LIBRARIES = ("gguf", "mlx", "onnx", "transformers.js", "coreml", "openvino", "tflite", "jax", "joblib")

# ISO 639-1 codes (plus the Hub's "multilingual"), so that language tags can be told from other tags.
LANGUAGE_CODES = frozenset(
    [
        "aa",
        "ab",
        "ae",
        "af",
        "ak",
        "am",
        "an",
        "ar",
        "as",
        "av",
        "ay",
        "az",
        "ba",
        "be",
        "bg",
        "bh",
        "bi",
        "bm",
        "bn",
        "bo",
        "br",
        "bs",
        "ca",
        "ce",
        "ch",
        "co",
        "cr",
        "cs",
        "cu",
        "cv",
        "cy",
        "da",
        "de",
        "dv",
        "dz",
        "ee",
        "el",
        "en",
        "eo",
        "es",
        "et",
        "eu",
        "fa",
        "ff",
        "fi",
        "fj",
        "fo",
        "fr",
        "fy",
        "ga",
        "gd",
        "gl",
        "gn",
        "gu",
        "gv",
        "ha",
        "he",
        "hi",
        "ho",
        "hr",
        "ht",
        "hu",
        "hy",
        "hz",
        "ia",
        "id",
        "ie",
        "ig",
        "ii",
        "ik",
        "io",
        "is",
        "it",
        "iu",
        "ja",
        "jv",
        "ka",
        "kg",
        "ki",
        "kj",
        "kk",
        "kl",
        "km",
        "kn",
        "ko",
        "kr",
        "ks",
        "ku",
        "kv",
        "kw",
        "ky",
        "la",
        "lb",
        "lg",
        "li",
        "ln",
        "lo",
        "lt",
        "lu",
        "lv",
        "mg",
        "mh",
        "mi",
        "mk",
        "ml",
        "mn",
        "mr",
        "ms",
        "mt",
        "my",
        "na",
        "nb",
        "nd",
        "ne",
        "ng",
        "nl",
        "nn",
        "no",
        "nr",
        "nv",
        "ny",
        "oc",
        "oj",
        "om",
        "or",
        "os",
        "pa",
        "pi",
        "pl",
        "ps",
        "pt",
        "qu",
        "rm",
        "rn",
        "ro",
        "ru",
        "rw",
        "sa",
        "sc",
        "sd",
        "se",
        "sg",
        "si",
        "sk",
        "sl",
        "sm",
        "sn",
        "so",
        "sq",
        "sr",
        "ss",
        "st",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "ti",
        "tk",
        "tl",
        "tn",
        "to",
        "tr",
        "ts",
        "tt",
        "tw",
        "ty",
        "ug",
        "uk",
        "ur",
        "uz",
        "ve",
        "vi",
        "vo",
        "wa",
        "wo",
        "xh",
        "yi",
        "yo",
        "za",
        "zh",
        "zu",
        "multilingual",
    ]
)

_ARXIV = re.compile(r"^arxiv:(.+)$")


@dataclass(frozen=True)
class BaseModel:
    id: str
    relation: str  # one of BASE_RELATIONS


@dataclass
class ModelRecord:
    """One model, normalised: every list is a list (possibly empty), every count an int or None."""

    id: str
    author: str
    pipeline_tag: str | None = None
    library: str | None = None
    tags: list[str] = field(default_factory=list)
    architectures: list[str] = field(default_factory=list)
    model_type: str | None = None
    datasets: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    license: str | None = None
    arxiv: list[str] = field(default_factory=list)
    base_models: list[BaseModel] = field(default_factory=list)
    downloads: int = 0
    likes: int | None = None
    last_modified: str | None = None  # ISO-8601, UTC
    snapshot: str = ""  # the snapshot date this record was taken from
    aliases: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["base_models"] = [BaseModel(**b) for b in known.get("base_models", [])]
        return cls(**known)


# --------------------------------------------------------------------------------------------------
# Cell parsing


def parse_list_cell(cell: str | None) -> list[str]:
    """Parse a Python-literal list cell such as ``"['a', 'b']"`` safely.

    Empty cells give ``[]``; a bare string that is not a list literal (the snapshots have some, e.g.
    ``wikipedia``) is taken as a one-element list; ``eval`` is never used.
    """
    if cell is None:
        return []
    text = cell.strip()
    if not text or text in ("[]", "None", "nan"):
        return []
    if text.startswith("["):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            log.debug("unparseable list cell %r", text[:80])
            return []
        if isinstance(value, (list, tuple)):
            return _dedupe(str(v).strip() for v in value if v is not None and str(v).strip())
        return []
    return [text]


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def parse_int(cell: str | None) -> int | None:
    if cell is None or not str(cell).strip():
        return None
    try:
        return int(float(cell))
    except ValueError:
        return None


def parse_timestamp(cell: str | None) -> str | None:
    """Both snapshots' timestamp styles -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    if not cell or not cell.strip():
        return None
    text = cell.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------
# Row normalisation


def facts_from_tags(tags: list[str]) -> dict[str, Any]:
    """Structured facts the Hub encodes in tags: datasets, arxiv ids, license, base models, languages."""
    datasets: list[str] = []
    arxiv: list[str] = []
    languages: list[str] = []
    license_: str | None = None
    bases: dict[str, str] = {}
    for tag in tags:
        if tag.startswith("dataset:"):
            datasets.append(tag.split(":", 1)[1])
        elif match := _ARXIV.match(tag):
            arxiv.append(match.group(1))
        elif tag.startswith("license:"):
            license_ = license_ or tag.split(":", 1)[1]
        elif tag.startswith("base_model:"):
            rest = tag.split(":", 1)[1]
            relation, _, target = rest.partition(":")
            if relation in BASE_RELATIONS and target:
                bases[target] = relation  # an explicit relation beats the plain tag
            else:
                bases.setdefault(rest, "finetune")  # a plain base_model tag declares a fine-tune
        elif tag in LANGUAGE_CODES:
            languages.append(tag)
    return {
        "datasets": _dedupe(datasets),
        "arxiv": _dedupe(arxiv),
        "languages": _dedupe(languages),
        "license": license_,
        "base_models": [BaseModel(id=b, relation=r) for b, r in bases.items()],
    }


def library_from_tags(tags: list[str]) -> str | None:
    tagset = set(tags)
    for lib in KNOWN_LIBRARIES:
        if lib in tagset and lib not in FORMAT_LIBRARIES:
            return lib
    for lib in FORMAT_LIBRARIES:
        if lib in tagset:
            return lib
    return None


def normalise_row(row: dict[str, str], snapshot: str) -> ModelRecord | None:
    """One CSV row (either snapshot's columns) -> a record, or None when the row has no model id."""
    model_id = (row.get("modelId") or "").strip()
    if not model_id:
        return None
    tags = parse_list_cell(row.get("tags"))
    facts = facts_from_tags(tags)
    datasets = _dedupe(parse_list_cell(row.get("datasets")) + facts["datasets"])
    author = (row.get("author") or "").strip() or (model_id.split("/", 1)[0] if "/" in model_id else "")
    return ModelRecord(
        id=model_id,
        author=author,
        pipeline_tag=(row.get("pipeline_tag") or "").strip() or None,
        library=(row.get("library_name") or "").strip() or library_from_tags(tags),
        tags=tags,
        architectures=parse_list_cell(row.get("architectures")),
        model_type=(row.get("model_type") or "").strip() or None,
        datasets=datasets,
        languages=facts["languages"],
        license=facts["license"],
        arxiv=facts["arxiv"],
        base_models=facts["base_models"],
        downloads=parse_int(row.get("downloads")) or 0,
        likes=parse_int(row.get("likes")),
        last_modified=parse_timestamp(row.get("lastModified")),
        snapshot=snapshot,
    )


# --------------------------------------------------------------------------------------------------
# Snapshot files


def snapshot_date(path: Path) -> str:
    """``hf-models-2024-09-top10k.csv.gz`` -> ``2024-09``."""
    match = re.search(r"(\d{4}-\d{2}(?:-\d{2})?)", path.name)
    if not match:
        raise ValueError(f"snapshot file name carries no date: {path.name}")
    return match.group(1)


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        yield from csv.DictReader(text)


def load_snapshot(path: Path) -> list[ModelRecord]:
    date = snapshot_date(path)
    records = [r for row in read_rows(path) if (r := normalise_row(row, date))]
    log.info("read %d models from %s", len(records), path.name)
    return records


def snapshot_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.iterdir() if p.name.endswith((".csv", ".csv.gz")))
    return sorted(files, key=snapshot_date)


# --------------------------------------------------------------------------------------------------
# The merged catalog


class Catalog:
    """All models, by canonical id, with legacy aliases that resolve everywhere."""

    def __init__(self, records: Iterable[ModelRecord]):
        self.records: dict[str, ModelRecord] = {r.id: r for r in records}
        self.ids = IdIndex(
            {r.id: r.aliases for r in self.records.values()}, {r.id: r.downloads for r in self.records.values()}
        )

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[ModelRecord]:
        return iter(self.records.values())

    def __contains__(self, model_id: object) -> bool:
        return isinstance(model_id, str) and self.ids.find(model_id) is not None

    @property
    def snapshots(self) -> list[str]:
        return sorted({r.snapshot for r in self.records.values()})

    def resolve(self, model_id: str) -> str:
        return self.ids.resolve(model_id)

    def get(self, model_id: str) -> ModelRecord:
        return self.records[self.ids.resolve(model_id)]


def legacy_aliases(legacy_ids: Iterable[str], current: dict[str, ModelRecord]) -> dict[str, str]:
    """Map legacy single-segment ids to the namespaced id the Hub moved them to.

    A legacy id equals the ``name`` part of its new id (``gpt2`` -> ``openai-community/gpt2``).  When
    several namespaced models share that name (``bert-base-uncased`` exists under ``google-bert``,
    ``Habana`` and ``Graphcore``), prefer the organisations that took over unambiguous legacy ids
    (the Hub moved them in bulk), then the most downloaded.
    """
    by_name: dict[str, list[str]] = defaultdict(list)
    for model_id in current:
        if "/" in model_id:
            by_name[model_id.split("/", 1)[1]].append(model_id)
    legacy = [i for i in legacy_ids if "/" not in i and i not in current and by_name.get(i)]
    migration_orgs: dict[str, int] = defaultdict(int)
    for lid in legacy:
        if len(by_name[lid]) == 1:
            migration_orgs[by_name[lid][0].split("/", 1)[0]] += 1
    result = {}
    for lid in legacy:
        candidates = sorted(
            by_name[lid],
            key=lambda c: (-migration_orgs.get(c.split("/", 1)[0], 0), -current[c].downloads, c),
        )
        result[lid] = candidates[0]
    return result


def merge_snapshots(snapshots: list[list[ModelRecord]]) -> Catalog:
    """Merge snapshots (oldest first) into one catalog.

    The newest snapshot wins field by field; fields it lacks (the 2024 file has no architectures or
    datasets column) are kept from the older record.  Legacy ids renamed by the Hub become aliases.
    """
    merged: dict[str, ModelRecord] = {}
    for records in snapshots:
        incoming = {r.id: r for r in records}
        aliases = legacy_aliases(list(merged), incoming)
        for old_id, new_id in aliases.items():
            older = merged.pop(old_id)
            incoming[new_id].aliases = _dedupe([*incoming[new_id].aliases, *older.aliases, old_id])
            incoming[new_id] = _fill_missing(incoming[new_id], older)
        for model_id, record in incoming.items():
            if model_id in merged:
                record.aliases = _dedupe([*record.aliases, *merged[model_id].aliases])
                record = _fill_missing(record, merged[model_id])
            merged[model_id] = record
    return Catalog(merged.values())


def _fill_missing(newer: ModelRecord, older: ModelRecord) -> ModelRecord:
    for name in ("pipeline_tag", "library", "model_type", "license", "likes", "last_modified"):
        if getattr(newer, name) is None and getattr(older, name) is not None:
            setattr(newer, name, getattr(older, name))
    for name in ("architectures", "datasets", "languages", "arxiv"):
        if not getattr(newer, name):
            setattr(newer, name, list(getattr(older, name)))
    if not newer.base_models:
        newer.base_models = list(older.base_models)
    return newer


def fill_model_types(snapshots: list[list[ModelRecord]]) -> None:
    """Snapshots without a model_type column (2024) get it from tags, using the types seen elsewhere.

    The Hub tags every transformers model with its model type; the vocabulary of types is taken from
    the snapshots that do have the column.
    """
    model_types = frozenset(r.model_type for records in snapshots for r in records if r.model_type)
    for records in snapshots:
        for record in records:
            if record.model_type is None:
                record.model_type = next((t for t in record.tags if t in model_types), None)


def load_catalog(snapshot_dir: Path) -> Catalog:
    """Read every snapshot file in ``snapshot_dir`` and merge them, newest winning."""
    files = snapshot_files(snapshot_dir)
    if not files:
        raise FileNotFoundError(f"no snapshot files (*.csv, *.csv.gz) in {snapshot_dir}")
    snapshots = [load_snapshot(path) for path in files]
    fill_model_types(snapshots)
    catalog = merge_snapshots(snapshots)
    log.info("catalog: %d models from %d snapshots", len(catalog), len(files))
    return catalog
