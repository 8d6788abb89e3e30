"""The model catalog: Hub snapshot rows normalised into one record per model.

Data flows one way: snapshot files -> :class:`ModelRecord` -> :class:`Catalog` (merged, with
aliases) -> Qdrant payloads (see :mod:`hfmrs.pipeline`).  Nothing here talks to Qdrant.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hfmrs.filters import FORMATS
from hfmrs.ids import IdIndex, UnknownModelError

__all__ = [
    "BaseModel",
    "Catalog",
    "ModelRecord",
    "UnknownModelError",
    "download_velocity",
    "load_catalog",
    "normalise_hub_record",
]

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
    # Issue 6 (live ingest): creation time and parameter count come from the Hub API (safetensors.total);
    # history holds downloads/likes per snapshot date the model was seen in, oldest first.
    created_at: str | None = None  # ISO-8601, UTC
    params: int | None = None
    history: dict[str, dict[str, int | None]] = field(default_factory=dict)
    # Issue 17: where `params` came from (hfmrs.sizes.PARAMS_SOURCES: "safetensors", "listed", "lineage",
    # "name", "family"; None while unknown), how the weights are stored ("gguf", "awq", "fp8", ...: a
    # quantized format fixes the memory per parameter; None = full precision), and the LLM facts of the
    # bundled size files (context length, Open LLM Leaderboard v2 scores).
    params_source: str | None = None
    weight_format: str | None = None
    gated: bool | None = None
    context_length: int | None = None
    leaderboard: dict[str, float | str] | None = None
    # Issue 15, set by hfmrs.sources at build time: what the model is for (hfmrs.purpose), its lineage
    # root and release stem, whether it is a quantized/format or test copy (hfmrs.relations), and the
    # quality prior (hfmrs.quality).
    purposes: list[str] = field(default_factory=list)
    family: str | None = None
    stem: str = ""
    copy: bool = False
    test_copy: bool = False
    quality: float = 0.0

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    @property
    def params_billions(self) -> float | None:
        """Parameters in billions (the payload field the "fits in N GB" filter reads)."""
        return None if self.params is None else round(self.params / 1e9, 6)

    @property
    def download_velocity(self) -> float | None:
        """Change in downloads per day between the latest two snapshots that have this model.

        The Hub's ``downloads`` is a trailing 30-day count, so this is how fast that count moves: positive
        when a model is gaining users.  None when the model is in fewer than two snapshots.
        """
        return download_velocity(self.history)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # Derived values travel in the payload (Qdrant filters and sorts on them) but are never stored
        # as fields, so they cannot go stale when history or params change.
        data["params_billions"] = self.params_billions
        data["download_velocity"] = self.download_velocity
        data["leaderboard_average"] = (self.leaderboard or {}).get("average")
        data["formats"] = model_formats(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["base_models"] = [BaseModel(**b) for b in known.get("base_models", [])]
        known["history"] = {k: dict(v) for k, v in (known.get("history") or {}).items()}
        return cls(**known)


# The formats and runtimes a repository ships for, as the Hub shows them: a tag (``gguf``, ``onnx``,
# ``transformers.js``), the library, or the quantized weight format (``mlx-4bit`` is mlx).
FORMAT_NAMES = frozenset(FORMATS)


def model_formats(record: ModelRecord) -> list[str]:
    """The formats a model ships in (the ``format`` filter's payload field), sorted."""
    found = {t for t in record.tags if t in FORMAT_NAMES}
    for name in (record.library, (record.weight_format or "").split("-")[0]):
        if name in FORMAT_NAMES:
            found.add(name)
    return sorted(found)


def snapshot_day(snapshot: str) -> date:
    """A snapshot date as a day: ``2024-09-20`` as is; month-only ``2024-09`` (the bundled files) as the 1st."""
    parts = [int(p) for p in snapshot.split("-")]
    return date(parts[0], parts[1], parts[2] if len(parts) > 2 else 1)


def download_velocity(history: dict[str, dict[str, int | None]]) -> float | None:
    """Downloads change per day between the two latest snapshots in ``history`` (None with fewer than two)."""
    dated = sorted(((snapshot_day(s), v.get("downloads")) for s, v in history.items()), key=lambda x: x[0])
    dated = [(d, n) for d, n in dated if n is not None]
    if len(dated) < 2:
        return None
    (old_day, old), (new_day, new) = dated[-2], dated[-1]
    days = max((new_day - old_day).days, 1)  # two snapshots on one day: treat as a day apart, never divide by 0
    return round((new - old) / days, 3)


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


def parse_tag_cell(cell: str | None) -> list[str]:
    """A tags cell of any snapshot: a Python-literal list (2023, 2024) or ``;``-separated (2026)."""
    text = (cell or "").strip()
    if text.startswith("[") or not text:
        return parse_list_cell(text)
    return _dedupe(t.strip() for t in text.split(";") if t.strip())


def parse_bool(cell: str | None) -> bool | None:
    text = (cell or "").strip().lower()
    if text in ("1", "true", "yes", "auto", "manual"):  # the Hub's gated values are False, "auto", "manual"
        return True
    if text in ("0", "false", "no"):
        return False
    return None


def normalise_row(row: dict[str, str], snapshot: str) -> ModelRecord | None:
    """One CSV row (any bundled snapshot's columns) -> a record, or None when the row has no model id.

    The 2023 and 2024 files name columns ``modelId``/``lastModified`` and write lists as Python
    literals; the 2026 file names them ``model_id``/``last_modified``, separates tags with ``;`` and
    adds ``likes``, ``license`` and ``gated``.
    """
    model_id = (row.get("modelId") or row.get("model_id") or "").strip()
    if not model_id:
        return None
    tags = parse_tag_cell(row.get("tags"))
    facts = facts_from_tags(tags)
    datasets = _dedupe(parse_list_cell(row.get("datasets")) + facts["datasets"])
    author = (row.get("author") or "").strip() or (model_id.split("/", 1)[0] if "/" in model_id else "")
    downloads = parse_int(row.get("downloads")) or 0
    likes = parse_int(row.get("likes"))
    license_column = (row.get("license") or "").strip()
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
        license=facts["license"] or (license_column if license_column not in ("", "unknown") else None),
        arxiv=facts["arxiv"],
        base_models=facts["base_models"],
        downloads=downloads,
        likes=likes,
        last_modified=parse_timestamp(row.get("lastModified") or row.get("last_modified")),
        snapshot=snapshot,
        history={snapshot: {"downloads": downloads, "likes": likes}},
        gated=parse_bool(row.get("gated")),
    )


def _str_list(value: Any) -> list[str]:
    """A card field that may be one string or a list of them (the Hub allows both)."""
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return _dedupe(str(v).strip() for v in values if isinstance(v, (str, int)) and str(v).strip())


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def normalise_hub_record(item: dict[str, Any], snapshot: str) -> ModelRecord | None:
    """One record of the Hub API's ``/api/models`` JSON (as written by ``hfmrs ingest``) -> a record.

    Structured card fields (``cardData``) win over what the tags say; tags fill the rest, exactly as
    for the CSV snapshots, so both sources give the same record for the same model.
    """
    model_id = item.get("id") or item.get("modelId")
    if not isinstance(model_id, str) or not model_id.strip():
        return None
    model_id = model_id.strip()
    tags = _str_list(item.get("tags"))
    facts = facts_from_tags(tags)
    config = item.get("config") if isinstance(item.get("config"), dict) else {}
    card = item.get("cardData") if isinstance(item.get("cardData"), dict) else {}
    safetensors = item.get("safetensors") if isinstance(item.get("safetensors"), dict) else {}

    bases = {b.id: b.relation for b in facts["base_models"]}
    relation = card.get("base_model_relation")
    for base in _str_list(card.get("base_model")):
        if relation in BASE_RELATIONS:
            bases[base] = relation
        else:
            bases.setdefault(base, "finetune")
    card_license = _str_list(card.get("license"))
    card_languages = [x.lower() for x in _str_list(card.get("language")) if x.lower() in LANGUAGE_CODES]
    author = item.get("author") if isinstance(item.get("author"), str) else ""
    author = author.strip() or (model_id.split("/", 1)[0] if "/" in model_id else "")
    library = item.get("library_name") if isinstance(item.get("library_name"), str) else None
    pipeline_tag = item.get("pipeline_tag") if isinstance(item.get("pipeline_tag"), str) else None
    model_type = config.get("model_type") if isinstance(config.get("model_type"), str) else None
    downloads = _int_or_none(item.get("downloads")) or 0
    likes = _int_or_none(item.get("likes"))
    return ModelRecord(
        id=model_id,
        author=author,
        pipeline_tag=pipeline_tag or None,
        library=library or library_from_tags(tags),
        tags=tags,
        architectures=_str_list(config.get("architectures")),
        model_type=model_type or None,
        datasets=_dedupe([*_str_list(card.get("datasets")), *facts["datasets"]]),
        languages=_dedupe([*card_languages, *facts["languages"]]),
        license=card_license[0] if card_license else facts["license"],
        arxiv=facts["arxiv"],
        base_models=[BaseModel(id=b, relation=r) for b, r in bases.items()],
        downloads=downloads,
        likes=likes,
        last_modified=parse_timestamp(item.get("lastModified") if isinstance(item.get("lastModified"), str) else None),
        snapshot=snapshot,
        created_at=parse_timestamp(item.get("createdAt") if isinstance(item.get("createdAt"), str) else None),
        params=_int_or_none(safetensors.get("total")),
        params_source="safetensors" if _int_or_none(safetensors.get("total")) is not None else None,
        history={snapshot: {"downloads": downloads, "likes": likes}},
        gated=item["gated"] if isinstance(item.get("gated"), bool) else parse_bool(str(item.get("gated") or "")),
    )


# --------------------------------------------------------------------------------------------------
# Snapshot files


SNAPSHOT_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz")


def snapshot_date(path: Path) -> str:
    """``hf-models-2024-09-top10k.csv.gz`` -> ``2024-09``; ``hf-models-2025-06-01-live.jsonl.gz`` -> ``2025-06-01``."""
    match = re.search(r"(\d{4}-\d{2}(?:-\d{2})?)", path.name)
    if not match:
        raise ValueError(f"snapshot file name carries no date: {path.name}")
    return match.group(1)


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        yield from csv.DictReader(text)


def read_hub_records(path: Path) -> Iterator[dict[str, Any]]:
    """Hub API records from a JSONL snapshot; a line that is not a JSON object is logged and skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: not JSON, skipped", path.name, number)
                continue
            if isinstance(item, dict):
                yield item


def load_snapshot(path: Path) -> list[ModelRecord]:
    snapshot = snapshot_date(path)
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        records = [r for item in read_hub_records(path) if (r := normalise_hub_record(item, snapshot))]
    else:
        records = [r for row in read_rows(path) if (r := normalise_row(row, snapshot))]
    log.info("read %d models from %s", len(records), path.name)
    return records


def snapshot_files(directory: Path, *more: Path) -> list[Path]:
    """Snapshot files (CSV from the bundled data, JSONL from live ingest) in ``directory`` and ``more``,
    oldest first.  Folders in ``more`` that do not exist yet (no crawl has finished) are skipped."""
    found: list[Path] = []
    for index, folder in enumerate([directory, *more]):
        if index and not folder.is_dir():
            continue
        found.extend(p for p in folder.iterdir() if p.is_file() and p.name.endswith(SNAPSHOT_SUFFIXES))
    return sorted(sorted(found), key=snapshot_date)


# --------------------------------------------------------------------------------------------------
# The merged catalog


class Catalog:
    """All models, by canonical id, with legacy aliases that resolve everywhere."""

    def __init__(self, records: Iterable[ModelRecord]):
        self.records: dict[str, ModelRecord] = {r.id: r for r in records}
        # What hfmrs.sources added from side files (listed facts, size sources), for the build manifest.
        self.facts: dict[str, Any] = {}
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


# Organisations the Hub renamed, all of whose models moved (old -> new owner).  A model seen under the old
# owner in an older snapshot and under the new one in a newer snapshot is one model: the old id becomes an
# alias.  Only these moves are trusted: many same-named models under other owners are copies, not renames
# (hf-internal-testing/tiny-random-bert and optimum-intel-internal-testing/tiny-random-bert both exist).
ORG_RENAMES: dict[str, str] = {
    "THUDM": "zai-org",  # Zhipu AI's GLM models, 2025
    "neuralmagic": "RedHatAI",  # Neural Magic joined Red Hat, 2025
    "ds4sd": "docling-project",  # IBM's Docling models, 2025
    "cognitivecomputations": "dphn",  # the Dolphin models, 2025
    "dunzhang": "NovaSearch",  # the Stella embedding models, 2024
}


def org_renames(older_ids: Iterable[str], current: dict[str, ModelRecord]) -> dict[str, str]:
    """Old ids whose organisation the Hub renamed (:data:`ORG_RENAMES`) -> the id in ``current``.

    Only where the old id is gone from ``current`` and the new one is there: an organisation that
    still publishes under both names keeps two models."""
    result = {}
    for old_id in older_ids:
        owner, _, name = old_id.partition("/")
        new_owner = ORG_RENAMES.get(owner)
        if new_owner and name and old_id not in current and f"{new_owner}/{name}" in current:
            result[old_id] = f"{new_owner}/{name}"
    return result


def merge_snapshots(snapshots: list[list[ModelRecord]]) -> Catalog:
    """Merge snapshots (oldest first) into one catalog.

    The newest snapshot wins field by field; fields it lacks (the 2024 file has no architectures or
    datasets column) are kept from the older record.  Legacy ids and organisations renamed by the Hub
    become aliases, and a model's download history gets a point from every snapshot it is in.
    """
    merged: dict[str, ModelRecord] = {}
    for records in snapshots:
        incoming = {r.id: r for r in records}
        older_ids = [i for i in merged if i not in incoming]
        renames = {**legacy_aliases(older_ids, incoming), **org_renames(older_ids, incoming)}
        for old_id, new_id in renames.items():
            if old_id not in merged or new_id in merged:  # the new id was already seen: two models
                continue
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
    # History accumulates across snapshots (and across renames: an alias's history is the model's).
    newer.history = {**older.history, **newer.history}
    for name in (
        "pipeline_tag",
        "library",
        "model_type",
        "license",
        "likes",
        "last_modified",
        "created_at",
        "gated",
        "context_length",
        "leaderboard",
        "weight_format",
    ):
        if getattr(newer, name) is None and getattr(older, name) is not None:
            setattr(newer, name, getattr(older, name))
    if newer.params is None and older.params is not None:  # a count and its source travel together
        newer.params, newer.params_source = older.params, older.params_source
    for name in ("architectures", "datasets", "languages", "arxiv"):
        if not getattr(newer, name):
            setattr(newer, name, list(getattr(older, name)))
    if not newer.base_models:
        newer.base_models = list(older.base_models)
    return newer


def fill_model_types(snapshots: list[list[ModelRecord]], known: Iterable[str] = ()) -> None:
    """Snapshots without a model_type column (2024, 2026) get it from tags, using the types seen elsewhere.

    The Hub tags every transformers model with its model type; the vocabulary of types is taken from
    the snapshots that do have the column, plus ``known`` (the types the bundled size files name, which
    include the families released after 2023: qwen3, gemma3, ...).
    """
    model_types = frozenset([*known, *(r.model_type for records in snapshots for r in records if r.model_type)])
    for records in snapshots:
        for record in records:
            if record.model_type is None:
                record.model_type = next((t for t in record.tags if t in model_types), None)


def load_catalog_files(files: Sequence[Path], known_model_types: Iterable[str] = ()) -> Catalog:
    """Read snapshot files (oldest first) and merge them, newest winning."""
    snapshots = [load_snapshot(path) for path in files]
    fill_model_types(snapshots, known_model_types)
    catalog = merge_snapshots(snapshots)
    log.info("catalog: %d models from %d snapshots", len(catalog), len(files))
    return catalog


def load_catalog(snapshot_dir: Path, *more: Path) -> Catalog:
    """Read every snapshot file in ``snapshot_dir`` (and the folders in ``more``, e.g. the live snapshots
    of ``settings.live_snapshot_dir``) and merge them, newest winning.  The snapshots alone: the build
    reads them through :func:`hfmrs.sources.open_catalog`, which adds sizes and the other listed facts."""
    files = snapshot_files(snapshot_dir, *more)
    if not files:
        patterns = ", ".join("*" + suffix for suffix in SNAPSHOT_SUFFIXES)
        raise FileNotFoundError(f"no snapshot files ({patterns}) in {snapshot_dir}")
    return load_catalog_files(files)
