"""Results as HTML a practitioner reads at a glance: one card per model, like the extension's panel.

A card shows the model id as a Hub link, a 0-100 match bar (the API's ``match``; the raw score in its
tooltip), human numbers (1.3M ↓, 3.1k ♥), task, library, size, licence, the first reason of ``why`` (all
of them on demand) and the copies grouped under it.  Nothing here ranks: cards come in the API's order.
Everything that comes from the catalog or the user is untrusted and goes through :func:`esc`; links are
percent-encoded Hub URLs.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from hfmrs.explain import human_count
from hfmrs.sizes import format_params

HUB = "https://huggingface.co"

# Styles use Gradio's theme variables, so cards read well in its light and dark modes.
CSS = """
.hf-cards { display: flex; flex-direction: column; gap: 6px; text-align: left; }
.hf-cards h3.hf-section { margin: 10px 0 2px; font-size: 1rem; }
.hf-cards h3.hf-section small { font-weight: normal; color: var(--body-text-color-subdued); }
.hf-list { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.hf-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 7px 10px;
  background: var(--block-background-fill); }
.hf-card.hf-shared { border-color: var(--color-accent); }
.hf-head { display: flex; align-items: center; gap: 8px; min-width: 0; }
.hf-rank { color: var(--body-text-color-subdued); font-variant-numeric: tabular-nums; min-width: 1.6em; }
.hf-id { font-weight: 600; color: #c2410c !important; text-decoration: none; overflow-wrap: anywhere; flex: 1;
  text-align: left !important; }
.hf-id:hover { text-decoration: underline; }
.hf-match { display: inline-flex; align-items: center; gap: 5px; flex: none; }
.hf-match-track { flex: none; width: 64px; height: 6px; border-radius: 3px; background: var(--border-color-primary);
  overflow: hidden; }
.hf-match-bar { display: block; height: 100%; background: #ff9d00; }
.hf-match-n { font-variant-numeric: tabular-nums; font-size: 0.85em; min-width: 2ch; text-align: right; }
.hf-meta { display: flex; flex-wrap: wrap; gap: 4px 10px; font-size: 0.85em; margin: 3px 0 0 2.2em;
  color: var(--body-text-color-subdued); }
.hf-meta .hf-tag { color: var(--body-text-color); }
.hf-why, .hf-variants { font-size: 0.85em; margin: 3px 0 0 2.2em; }
.hf-why summary, .hf-variants summary { cursor: pointer; }
.hf-why ul, .hf-variants ul { margin: 2px 0 0 1em; padding: 0; }
.hf-query { border: 1px solid var(--border-color-primary); border-left: 4px solid #ff9d00;
  border-radius: 8px; padding: 8px 12px; }
.hf-query .hf-meta { margin-left: 0; }
.hf-both { color: var(--color-accent); font-weight: 600; font-size: 0.85em; }
"""

SECTIONS = [
    ("family", "Family", "its base, fine-tunes, sizes and copies"),
    ("alternative", "Alternatives", "other models for the same job"),
]

SIZE_SOURCES = {
    "safetensors": "exact, from the weights",
    "listed": "exact, from a size list",
    "name": "estimated from the name",
    "lineage": "the size of the model it was derived from",
    "family": "the typical size of its family",
}


def esc(value: object) -> str:
    """Untrusted text, safe in HTML content and in quoted attributes."""
    return html.escape(str(value), quote=True)


def hub_url(model_id: str) -> str:
    return f"{HUB}/{quote(model_id, safe='/')}"


def link(model_id: str, css: str = "hf-id") -> str:
    return f'<a class="{css}" href="{esc(hub_url(model_id))}" target="_blank" rel="noopener">{esc(model_id)}</a>'


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 model``, ``2 models`` (numbers with thousands separators)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def size_text(result: Mapping[str, Any]) -> str:
    """``8.19B``, ``~7B`` (an estimate), ``~8B GGUF`` (a quantized copy); blank when the size is unknown."""
    text = format_params(result.get("params_billions"), result.get("params_source"))
    fmt = result.get("weight_format")
    return f"{text} {fmt.upper()}" if text and fmt else text


def _span(text: str, title: str = "", css: str = "") -> str:
    attrs = (f' class="{css}"' if css else "") + (f' title="{esc(title)}"' if title else "")
    return f"<span{attrs}>{esc(text)}</span>"


def meta_spans(r: Mapping[str, Any]) -> list[str]:
    """What a Hub page shows at a glance: task, library, size, licence, downloads, likes, last update."""
    spans = [
        _span(r[key], what, "hf-tag") for key, what in (("pipeline_tag", "task"), ("library", "library")) if r.get(key)
    ]
    if size := size_text(r):
        spans.append(_span(size, "parameters: " + SIZE_SOURCES.get(r.get("params_source") or "", "size")))
    if r.get("license"):
        spans.append(_span(r["license"], "licence"))
    downloads = int(r.get("downloads") or 0)
    spans.append(_span(f"{human_count(downloads)} ↓", plural(downloads, "download")))
    if r.get("likes") is not None:
        spans.append(_span(f"{human_count(int(r['likes']))} ♥", plural(int(r["likes"]), "like")))
    if r.get("last_modified"):
        spans.append(_span(f"updated {str(r['last_modified'])[:10]}", "last modified"))
    return spans


def match_meter(r: Mapping[str, Any], method: str) -> str:
    match = max(0, min(100, int(r.get("match") or 0)))
    title = f"match {match}/100 · {method} score {float(r.get('score') or 0):.4g}"
    return (
        f'<span class="hf-match" role="meter" aria-label="match" aria-valuemin="0" aria-valuemax="100" '
        f'aria-valuenow="{match}" title="{esc(title)}"><span class="hf-match-track">'
        f'<span class="hf-match-bar" style="width:{match}%"></span></span>'
        f'<span class="hf-match-n">{match}</span></span>'
    )


def why_block(why: Sequence[str]) -> str:
    """The first reason, and the rest on demand."""
    if not why:
        return ""
    if len(why) == 1:
        return f'<div class="hf-why">{esc(why[0])}</div>'
    rest = "".join(f"<li>{esc(w)}</li>" for w in why[1:])
    return f'<details class="hf-why"><summary>{esc(why[0])} (+{len(why) - 1} more)</summary><ul>{rest}</ul></details>'


def variants_block(variants: Sequence[str]) -> str:
    if not variants:
        return ""
    items = "".join(f"<li>{link(v, 'hf-variant')}</li>" for v in variants)
    label = plural(len(variants), "copy", "copies") + " grouped here (quantized, format and test copies)"
    return f'<details class="hf-variants"><summary>{esc(label)}</summary><ul>{items}</ul></details>'


def card(r: Mapping[str, Any], rank: int, method: str, shared: bool = False, compact: bool = False) -> str:
    """One result: rank, id, match; facts; why; copies.  ``shared``: in both lists of a comparison."""
    both = ' <span class="hf-both" title="in both lists">both</span>' if shared else ""
    head = (
        f'<div class="hf-head"><span class="hf-rank">{rank}</span>{link(r["id"])}{both}{match_meter(r, method)}</div>'
    )
    meta = f'<div class="hf-meta">{"".join(meta_spans(r))}</div>'
    extra = "" if compact else why_block(r.get("why") or []) + variants_block(r.get("variants") or [])
    css = "hf-card hf-shared" if shared else "hf-card"
    return f'<li class="{css}" data-id="{esc(r["id"])}">{head}{meta}{extra}</li>'


def cards_html(
    results: Sequence[Mapping[str, Any]],
    method: str,
    header: str = "",
    sections: bool = True,
    shared: Collection[str] = (),
    compact: bool = False,
) -> str:
    """The list, as Family and Alternatives sections when both are present (ranks stay overall)."""
    ranked = list(enumerate(results, start=1))
    present = [s for s in SECTIONS if any(r.get("relation") == s[0] for _, r in ranked)] if sections else []
    parts = [header] if header else []
    if len(present) < 2:
        present = [(None, "", "")]
    for relation, title, about in present:
        members = [(n, r) for n, r in ranked if relation is None or r.get("relation") == relation]
        if title:
            parts.append(f'<h3 class="hf-section">{title} <small>{about} · {len(members)}</small></h3>')
        items = "".join(card(r, n, method, r["id"] in shared, compact) for n, r in members)
        css = f' data-relation="{relation}"' if relation else ""
        parts.append(f'<ol class="hf-list"{css}>{items}</ol>')
    return f'<div class="hf-cards">{"".join(parts)}</div>'


LEADERBOARD = (("ifeval", "IFEval"), ("bbh", "BBH"), ("math", "MATH"), ("gpqa", "GPQA"), ("musr", "MuSR"))


def query_card(info: Mapping[str, Any]) -> str:
    """The query model's own facts (what its Hub page shows), above its similar models."""
    facts = meta_spans(info)
    if info.get("context_length"):
        facts.append(_span(f"context {int(info['context_length']):,}", "context length, tokens"))
    if info.get("gated"):
        facts.append(_span("gated", "accept the conditions on the Hub to download"))
    bases = info.get("base_model_ids") or []
    base = f'<div class="hf-meta">base: {", ".join(link(b, "hf-base") for b in bases[:3])}</div>' if bases else ""
    board = info.get("leaderboard") or {}
    scores = ""
    if board.get("average") is not None:
        parts = ", ".join(f"{label} {board[key]:.1f}" for key, label in LEADERBOARD if board.get(key) is not None)
        scores = (
            f'<div class="hf-meta">Open LLM Leaderboard v2 ({esc(board.get("as_of", ""))}): average '
            f"<b>{float(board['average']):.1f}</b>{esc(f' ({parts})' if parts else '')}</div>"
        )
    return (
        f'<div class="hf-query" data-id="{esc(info["id"])}">{link(info["id"])}'
        f'<div class="hf-meta">{"".join(facts)}</div>{base}{scores}</div>'
    )
