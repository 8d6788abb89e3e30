"""The team's practitioner-judged set: its file format, the stable tune/report split, the shipped files,
its evaluation beside the other sets, and tuning the fused weights on the tune half."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from hfmrs.catalog import load_catalog
from hfmrs.embedding import KeywordEncoder
from hfmrs.engine import Engine
from hfmrs.evaluation.judged import (
    JUDGED_K,
    JudgedQuery,
    assign_halves,
    load_judged,
    parse,
    query_sets,
)
from hfmrs.evaluation.runner import EvaluationConfig, evaluate_judged_build
from hfmrs.evaluation.tune import collect, objective, ranked, tune_weights
from hfmrs.pipeline import build
from hfmrs.recommenders.fused import DEFAULT_WEIGHTS, FEATURES, FIXED_WEIGHTS
from hfmrs.settings import BUNDLED_DATA
from tests.conftest import KEYWORDS

JUDGED_DIR = BUNDLED_DATA / "eval" / "judged"
# The issue's task families: every one has judged queries.
TASK_FAMILIES = {
    *("chat", "base-llm", "reasoning", "code", "embeddings", "reranker", "sentiment", "ner", "qa", "nli"),
    *("summarization", "translation", "asr", "tts", "audio-classification", "image-classification", "detection"),
    *("segmentation", "depth", "text-to-image", "clip", "vlm", "time-series"),
}

SMALL = """\
# a comment
query: gpt2 | text-generation
2: gpt2-medium, openai-community/gpt2-large   # trailing comment
1: bert-base-uncased
2: bert-base-uncased

query: vision/vit-base | vision
2: vision/vit-large, not/in-the-catalog
"""


def test_parse_blocks_grades_and_comments():
    blocks = list(parse(SMALL.splitlines(), "small.txt"))
    assert blocks == [
        ("gpt2", "text-generation", {"gpt2-medium": 2, "openai-community/gpt2-large": 2, "bert-base-uncased": 2}),
        ("vision/vit-base", "vision", {"vision/vit-large": 2, "not/in-the-catalog": 2}),
    ]


@pytest.mark.parametrize("bad", ["3: gpt2", "2 gpt2", "gpt2-medium"])
def test_parse_rejects_bad_lines_with_the_place(bad: str):
    with pytest.raises(ValueError, match=r"^bad\.txt:2: expected 'query: <id> \| <family>' or '<grade>: <ids>'$"):
        list(parse(["query: gpt2 | x", bad], "bad.txt"))


def test_halves_are_balanced_per_family_and_stable():
    queries = [JudgedQuery(f"org/m{i}", "llm" if i < 7 else "asr") for i in range(12)]
    assign_halves(queries)
    first = {q.query: q.half for q in queries}
    for family in ("llm", "asr"):
        halves = Counter(q.half for q in queries if q.task_family == family)
        assert abs(halves["tune"] - halves["report"]) <= 1
    more = [JudgedQuery(q.query, q.task_family) for q in queries] + [JudgedQuery("org/new", "ocr")]
    assign_halves(more)
    assert {q.query: q.half for q in more if q.query != "org/new"} == first  # other families keep their halves


def test_loading_resolves_ids_and_drops_what_the_catalog_lacks(tmp_path, snapshot_dir):
    (tmp_path / "small.txt").write_text(SMALL, encoding="utf-8")
    judged = load_judged(tmp_path, load_catalog(snapshot_dir))
    by_query = {q.query: q for q in judged}
    assert by_query["openai-community/gpt2"].judged == {
        "gpt2-medium": 2,
        "openai-community/gpt2-large": 2,
        "google-bert/bert-base-uncased": 2,  # the legacy id, resolved
    }
    assert by_query["vision/vit-base"].judged == {"vision/vit-large": 2}
    half = next(q.half for q in judged)
    graded, family, alternatives = query_sets(judged, half)
    assert (graded.name, family.name, alternatives.name) == (
        f"judged-{half}",
        f"judged-{half}/family",
        f"judged-{half}/alternatives",
    )


def test_the_shipped_judged_set_meets_the_issue():
    blocks = [b for path in sorted(JUDGED_DIR.glob("*.txt")) for b in parse(path.read_text().splitlines(), path.name)]
    assert len(blocks) >= 80
    assert len({q for q, _, _ in blocks}) == len(blocks)  # one block per query
    assert all(len(judged) >= 15 for _, _, judged in blocks), [q for q, _, j in blocks if len(j) < 15]
    assert all(set(judged.values()) == {1, 2} for _, _, judged in blocks)  # family and alternatives, both
    assert {family for _, family, _ in blocks} >= TASK_FAMILIES


@pytest.mark.minilm
def test_the_shipped_judged_set_resolves_in_the_bundled_catalog(bundled_engine):
    blocks = [b for path in sorted(JUDGED_DIR.glob("*.txt")) for b in parse(path.read_text().splitlines(), path.name)]
    assert all(bundled_engine.ids.find(q) for q, _, _ in blocks)
    ids = [m for _, _, judged in blocks for m in judged]
    assert sum(bundled_engine.ids.find(m) is not None for m in ids) / len(ids) > 0.95


def small_judged(snapshot_dir) -> list[JudgedQuery]:
    catalog = load_catalog(snapshot_dir)
    queries = [
        JudgedQuery("openai-community/gpt2", "llm", {"gpt2-medium": 2, "openai-community/gpt2-large": 2}),
        JudgedQuery(
            "google-bert/bert-base-uncased", "fill-mask", {"bert-base-cased": 2, "Habana/bert-base-uncased": 2}
        ),
        JudgedQuery("vision/vit-base", "vision", {"vision/vit-large": 2}),
        JudgedQuery("meta/llama-7b", "llm", {"openai-community/gpt2-large": 1, "gpt2-medium": 1}),
    ]
    assert all(catalog.ids.find(m) for q in queries for m in [q.query, *q.judged])
    for i, q in enumerate(queries):
        q.half = ("tune", "report")[i % 2]
    return queries


def test_judged_sets_are_evaluated_per_half_and_relation(settings, snapshot_dir, tmp_path):
    judged = small_judged(snapshot_dir)
    config = EvaluationConfig(resamples=20, train=False, methods=["cosine", "fused", "naive-fusion", "popularity"])
    sets = evaluate_judged_build(settings, judged, KeywordEncoder(KEYWORDS), config, tmp_path / "eval", False)
    assert set(sets) == {f"judged-{h}{v}" for h in ("tune", "report") for v in ("", "/family", "/alternatives")}
    report = sets["judged-report"]
    assert report["k"] == list(JUDGED_K)
    assert {"cosine", "fused", "naive-fusion", "popularity"} <= set(report["methods"])
    cell = report["methods"]["fused"]["ndcg@10"]
    assert 0.0 <= cell["low"] <= cell["value"] <= cell["high"] <= 1.0
    assert report["stats"]["queries"] == 2
    paired = report["paired"]  # the default (cosine in tests) minus each method, query by query
    assert paired["method"] == "cosine" and set(paired["versus"]) == {"fused", "naive-fusion", "popularity"}
    for key in ("ndcg@10", "recall@100"):
        difference = report["methods"]["cosine"][key]["value"] - report["methods"]["fused"][key]["value"]
        assert paired["versus"]["fused"][key]["value"] == pytest.approx(difference, abs=1e-6)


def test_tuning_changes_only_tunable_weights_and_never_loses(settings, encoder, snapshot_dir):
    build(settings, encoder=encoder, show_progress=False)
    engine = Engine.open(settings)
    try:
        queries = collect(engine, small_judged(snapshot_dir), engine.recommenders["fused"])
        start = {**DEFAULT_WEIGHTS, "rank_dense": 0.0, "rank_bm25": 0.0}  # a poor start to improve on
        start_vector = np.array([1.0 if f == "quality" else start.get(f, 0.0) for f in FEATURES])
        before = objective(queries, start_vector)[0]
        result = tune_weights(queries, start, quality_prior=1.0, rounds=2, progress=lambda _: None)
        assert result.objective >= before and result.history[0]["objective"] == pytest.approx(before)
        assert all(result.weights[f] == w for f, w in FIXED_WEIGHTS.items())
        tuned = np.array([result.weights[f] for f in FEATURES])
        assert ranked(queries[0], tuned, 3)[0] in {"gpt2-medium", "openai-community/gpt2-large"}
    finally:
        engine.close()
