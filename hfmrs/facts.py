"""Facts about models from the bundled side files: exact parameter counts, context length, leaderboard
scores and likes, keyed by Hub model id.

Two sources (vendored in ``data/sizes/``, see data/README.md):

- ``llmfit-hf-models-<date>.json``: exact parameter counts (``parameters_raw``), context length and the
  architecture's ``model_type`` for ~1,850 LLMs (llmfit, MIT).
- ``open-llm-leaderboard-v2-<date>.csv``: parameters (billions), likes ("hearts") and the six benchmark
  scores of the Open LLM Leaderboard v2 for ~4,500 LLMs (MPL-2.0 repository).

Nothing here knows the catalog: :func:`load_listed_facts` returns plain :class:`ListedFacts` per id and
:mod:`hfmrs.sources` joins them onto the records.  A missing file is skipped (the build then has fewer
exact sizes), so a deployment can leave either out.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LLMFIT_GLOB = "llmfit-hf-models-*.json*"
LEADERBOARD_GLOB = "open-llm-leaderboard-v2-*.csv*"

# Leaderboard columns -> the keys of a record's `leaderboard` dict (normalised 0-100 scores, as the
# leaderboard shows them).
LEADERBOARD_SCORES = {
    "ifeval": "evaluations_ifeval_normalized_score",
    "bbh": "evaluations_bbh_normalized_score",
    "math": "evaluations_math_normalized_score",
    "gpqa": "evaluations_gpqa_normalized_score",
    "musr": "evaluations_musr_normalized_score",
    "mmlu_pro": "evaluations_mmlu_pro_normalized_score",
}


@dataclass
class ListedFacts:
    """What the side files say about one model id (every field optional)."""

    params: int | None = None
    # Which file the count came from, and whether that file counts a quantized repository's packed
    # tensors (llmfit reads safetensors headers: a 4-bit AWQ/GPTQ/MLX repo shows a fraction of its real size).
    params_from: str | None = None
    context_length: int | None = None
    model_type: str | None = None
    likes: int | None = None
    leaderboard: dict[str, float | str] | None = None
    sources: list[str] = field(default_factory=list)


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def _newest(directory: Path, pattern: str) -> Path | None:
    found = sorted(directory.glob(pattern)) if directory.is_dir() else []
    return found[-1] if found else None


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    return None


def read_llmfit(path: Path) -> Iterator[tuple[str, ListedFacts]]:
    with _open_text(path) as handle:
        items = json.load(handle)
    for item in items if isinstance(items, list) else []:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or "/" not in name:
            continue
        model_type = item.get("architecture")
        yield (
            name.strip(),
            ListedFacts(
                params=_positive_int(item.get("parameters_raw")),
                params_from="llmfit",
                context_length=_positive_int(item.get("context_length")),
                model_type=model_type if isinstance(model_type, str) and model_type != "unknown" else None,
                likes=_positive_int(item.get("hf_likes")),  # llmfit writes 0 for "not fetched": only > 0 counts
                sources=["llmfit"],
            ),
        )


def _float(cell: str | None) -> float | None:
    try:
        value = float(cell) if cell not in (None, "") else None
    except ValueError:
        return None
    return value


def read_leaderboard(path: Path) -> Iterator[tuple[str, ListedFacts]]:
    """One entry per model: a model evaluated several times (precisions, revisions) keeps its best average."""
    best: dict[str, tuple[float, dict[str, str]]] = {}
    with _open_text(path) as handle:
        for row in csv.DictReader(handle):
            name = (row.get("model_name") or "").strip()
            average = _float(row.get("model_average_score"))
            if "/" not in name or average is None:
                continue
            if name not in best or average > best[name][0]:
                best[name] = (average, row)
    date = _date_of(path)
    for name, (average, row) in best.items():
        scores: dict[str, float | str] = {"average": round(average, 2)}
        for key, column in LEADERBOARD_SCORES.items():
            if (value := _float(row.get(column))) is not None:
                scores[key] = round(value, 2)
        scores["as_of"] = date
        billions = _float(row.get("metadata_params_billions"))
        yield (
            name,
            ListedFacts(
                params=round(billions * 1e9) if billions and billions > 0 else None,
                params_from="leaderboard",
                likes=_positive_int(_float(row.get("metadata_hub_hearts"))),
                leaderboard=scores,
                sources=["leaderboard"],
            ),
        )


def _date_of(path: Path) -> str:
    match = re.search(r"(\d{4}-\d{2}(?:-\d{2})?)", path.name)
    return match.group(1) if match else ""


def load_listed_facts(sizes_dir: Path | None) -> dict[str, ListedFacts]:
    """Every id either file lists, merged: llmfit's exact counts and context lengths, the leaderboard's
    scores; where both give a count, llmfit's (read from the weights) wins."""
    facts: dict[str, ListedFacts] = {}
    if sizes_dir is None:
        return facts
    readers = ((LLMFIT_GLOB, read_llmfit), (LEADERBOARD_GLOB, read_leaderboard))
    for pattern, reader in readers:
        path = _newest(sizes_dir, pattern)
        if path is None:
            log.info("no %s in %s: skipped", pattern, sizes_dir)
            continue
        count = 0
        for name, new in reader(path):
            count += 1
            old = facts.get(name)
            facts[name] = new if old is None else _merge(old, new)
        log.info("read %d listed models from %s", count, path.name)
    return facts


def _merge(first: ListedFacts, second: ListedFacts) -> ListedFacts:
    """``first`` wins field by field; ``second`` fills its gaps."""
    merged = ListedFacts(sources=[*first.sources, *second.sources])
    for name in ("context_length", "model_type", "likes", "leaderboard"):
        setattr(merged, name, getattr(first, name) if getattr(first, name) is not None else getattr(second, name))
    if first.params is not None:
        merged.params, merged.params_from = first.params, first.params_from
    else:
        merged.params, merged.params_from = second.params, second.params_from
    return merged
