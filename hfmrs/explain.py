"""`why`: the evidence a recommended model shares with the query, as short human-readable strings.

Computed from the two payloads only, so every method gets the same explanations.
"""

from __future__ import annotations

from typing import Any

from hfmrs.features import NOISE_TAGS
from hfmrs.purpose import SPECIFIC

MAX_REASONS = 6
WIDELY_USED = 0.05  # a quality-prior lift over the typical candidate at least this large is worth saying
# How a purpose reads in a sentence ("also a named-entity recognition model").
PURPOSE_NAMES = {
    "ner": "named-entity recognition",
    "nli": "NLI / zero-shot",
    "extractive-qa": "extractive QA",
    "pos": "part-of-speech",
    "language-id": "language identification",
    "ocr": "OCR",
    "nsfw-detection": "NSFW detection",
    "vad": "voice activity detection",
}


def human_count(n: int) -> str:
    """1271959 -> "1.3M", 3100 -> "3.1k", 950 -> "950"."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + unit
    return str(n)


class Explainer:
    """``why`` for one query against many results: the query's side is prepared once per request
    (sets, filtered tags), so each result costs a few set look-ups."""

    def __init__(self, query: dict[str, Any]):
        self.id = query.get("id")
        self.aliases = {self.id, *(query.get("aliases") or [])}
        self.bases: list[str] = query.get("base_model_ids") or []
        self.pipeline_tag = query.get("pipeline_tag")
        self.architectures: list[str] = query.get("architectures") or []
        self.model_type = query.get("model_type")
        self.datasets: list[str] = query.get("datasets") or []
        self.library = query.get("library")
        self.languages: list[str] = query.get("languages") or []
        self.arxiv: list[str] = query.get("arxiv") or []
        self.author = query.get("author")
        self.purposes = [x for x in query.get("purposes") or [] if x in SPECIFIC]
        plain = {self.pipeline_tag, self.library, self.model_type, *self.languages}
        self.tags = [t for t in query.get("tags") or [] if t not in NOISE_TAGS and ":" not in t and t not in plain]

    def __call__(self, result: dict[str, Any]) -> list[str]:
        """Reasons, strongest first: lineage, purpose, popularity (when it lifted the result), task,
        architecture, datasets, library, language, tags."""
        reasons: list[str] = []
        r_bases = result.get("base_model_ids") or []
        if r_bases and not self.aliases.isdisjoint(r_bases):
            reasons.append(f"derived from {self.id}")
        if self.bases and not {result.get("id"), *(result.get("aliases") or [])}.isdisjoint(self.bases):
            reasons.append(f"base model of {self.id}")
        for base in _shared(self.bases, r_bases)[:2]:
            reasons.append(f"same base model: {base}")
        if purposes := _shared(self.purposes, result.get("purposes")):
            reasons.append(f"also a {PURPOSE_NAMES.get(purposes[0], purposes[0])} model")
        downloads = result.get("downloads") or 0
        if result.get("_prior", 0.0) >= WIDELY_USED and downloads >= 100_000:  # the quality prior lifted it
            reasons.append(f"widely used: {human_count(downloads)} downloads")
        if self.pipeline_tag and self.pipeline_tag == result.get("pipeline_tag"):
            reasons.append(f"same task: {self.pipeline_tag}")
        if arch := _shared(self.architectures, result.get("architectures")):
            reasons.append(f"same architecture: {arch[0]}")
        elif self.model_type and self.model_type == result.get("model_type"):
            reasons.append(f"same model type: {self.model_type}")
        if datasets := _shared(self.datasets, result.get("datasets")):
            reasons.append("shared datasets: " + ", ".join(datasets[:3]))
        if self.library and self.library == result.get("library"):
            reasons.append(f"same library: {self.library}")
        if languages := _shared(self.languages, result.get("languages")):
            reasons.append("same language: " + ", ".join(languages[:3]))
        if papers := _shared(self.arxiv, result.get("arxiv")):
            reasons.append("same paper: arxiv " + ", ".join(papers[:2]))
        if tags := _shared(self.tags, result.get("tags")):
            reasons.append("shared tags: " + ", ".join(tags[:3]))
        if self.author and self.author == result.get("author"):
            reasons.append(f"same author: {self.author}")
        return reasons[:MAX_REASONS]


def _shared(ours: list[str], theirs: list[str] | None) -> list[str]:
    """Items of ``ours`` (in our order) that ``theirs`` also has."""
    if not ours or not theirs:
        return []
    other = set(theirs)
    return [x for x in ours if x in other]


def why(query: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Reasons, strongest first, why ``result`` is like ``query`` (see :class:`Explainer`)."""
    return Explainer(query)(result)
