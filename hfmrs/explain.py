"""`why`: the evidence a recommended model shares with the query, as short human-readable strings.

Computed from the two payloads only, so every method gets the same explanations.
"""

from __future__ import annotations

from typing import Any

from hfmrs.features import NOISE_TAGS

MAX_REASONS = 6


def _shared(a: list[str] | None, b: list[str] | None) -> list[str]:
    other = set(b or [])
    return [x for x in (a or []) if x in other]


def why(query: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Reasons, strongest first: lineage, task, architecture, datasets, library, language, tags."""
    reasons: list[str] = []
    q_id, r_id = query.get("id"), result.get("id")
    q_bases, r_bases = query.get("base_model_ids") or [], result.get("base_model_ids") or []
    q_aliases, r_aliases = {q_id, *(query.get("aliases") or [])}, {r_id, *(result.get("aliases") or [])}
    if q_aliases & set(r_bases):
        reasons.append(f"derived from {q_id}")
    if r_aliases & set(q_bases):
        reasons.append(f"base model of {q_id}")
    for base in _shared(q_bases, r_bases)[:2]:
        reasons.append(f"same base model: {base}")
    if query.get("pipeline_tag") and query.get("pipeline_tag") == result.get("pipeline_tag"):
        reasons.append(f"same task: {query['pipeline_tag']}")
    if arch := _shared(query.get("architectures"), result.get("architectures")):
        reasons.append(f"same architecture: {arch[0]}")
    elif query.get("model_type") and query.get("model_type") == result.get("model_type"):
        reasons.append(f"same model type: {query['model_type']}")
    if datasets := _shared(query.get("datasets"), result.get("datasets")):
        reasons.append("shared datasets: " + ", ".join(datasets[:3]))
    if query.get("library") and query.get("library") == result.get("library"):
        reasons.append(f"same library: {query['library']}")
    if languages := _shared(query.get("languages"), result.get("languages")):
        reasons.append("same language: " + ", ".join(languages[:3]))
    if papers := _shared(query.get("arxiv"), result.get("arxiv")):
        reasons.append("same paper: arxiv " + ", ".join(papers[:2]))
    tags = [
        t
        for t in _shared(query.get("tags"), result.get("tags"))
        if t not in NOISE_TAGS
        and ":" not in t
        and t not in {query.get("pipeline_tag"), query.get("library"), query.get("model_type")}
        and t not in (query.get("languages") or [])
    ]
    if tags:
        reasons.append("shared tags: " + ", ".join(tags[:3]))
    if query.get("author") and query.get("author") == result.get("author"):
        reasons.append(f"same author: {query['author']}")
    return reasons[:MAX_REASONS]
