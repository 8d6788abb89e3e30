"""The need-description set: its format, groups, halves, the shipped set's size, and the tuner."""

from pathlib import Path

import numpy as np
import pytest

from hfmrs.evaluation.needs import (
    Need,
    expand,
    load_needs,
    objective,
    parse_groups,
    parse_needs,
    query_set,
    tune_search_weights,
)
from hfmrs.search import Found

SHIPPED = Path(__file__).resolve().parents[3] / "data" / "eval" / "needs"


def test_groups_expand_recursively_and_errors_name_the_problem():
    groups = parse_groups(["# comment", "group asr: a/whisper, b/parakeet", "group asr-de: c/german, @asr"])
    assert expand(["@asr-de", "d/x"], groups) == ["c/german", "a/whisper", "b/parakeet", "d/x"]
    with pytest.raises(ValueError, match="unknown answer group @tts"):
        expand(["@tts"], groups)
    with pytest.raises(ValueError, match="includes itself"):
        expand(["@loop"], {"loop": ["@loop"]})
    with pytest.raises(ValueError, match=r"groups\.txt:1: expected 'group <name>: <ids>'"):
        parse_groups(["asr: a/whisper"])


def test_needs_pair_with_answers():
    lines = ["need: speech to text | asr", "answers: @asr, x/y", "", "need: a | b"]
    with pytest.raises(ValueError, match="last need has no 'answers:' line"):
        list(parse_needs(lines, "n.txt"))
    assert list(parse_needs(lines[:2])) == [("speech to text", "asr", ["@asr", "x/y"])]


def test_load_resolves_ids_and_splits_by_family(tmp_path):
    (tmp_path / "groups.txt").write_text("group g: a/one, a/two, gone/missing\n")
    (tmp_path / "n.txt").write_text(
        "".join(f"need: need {i} | fam{i % 2}\nanswers: @g, b/{i}\n" for i in range(8))
        + "need: lost | x\nanswers: gone/x\n"
    )
    known = {"a/one", "a/two", *(f"b/{i}" for i in range(8))}
    needs = load_needs(tmp_path, lambda m: m if m in known else None)
    assert len(needs) == 8  # the need whose answers are all missing is left out
    assert needs[0].answers == {"a/one", "a/two", "b/0"}
    for family in ("fam0", "fam1"):
        halves = [n.half for n in needs if n.task_family == family]
        assert sorted(halves) == ["report", "report", "tune", "tune"]
    report = query_set(needs, "report")
    assert report.name == "needs-report" and len(report) == 4


def test_the_shipped_set_is_big_enough_and_parses():
    groups = parse_groups((SHIPPED / "groups.txt").read_text().splitlines())
    needs = list(parse_needs((SHIPPED / "needs.txt").read_text().splitlines()))
    assert len(needs) >= 150
    assert len({family for _, family, _ in needs}) >= 30
    for _, _, entries in needs:
        assert expand(entries, groups)


def test_objective_and_tuner():
    needs = [Need("q1", "f", {"good"}), Need("q2", "f", {"good2", "other"})]
    assert objective([["good"], ["x"] * 10 + ["good2"]], needs) == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    # feature a favours eleven wrong models, feature b the right one: the tuner turns to b
    ids = [f"bad{i}" for i in range(11)]
    rows = np.array([[1.0, 0.0]] * 11 + [[0.0, 1.0]])
    found = [Found([*ids, "good"], [{}] * 12, rows), Found([*ids, "good2"], [{}] * 12, rows)]
    before = objective([[*ids, "good"], [*ids, "good2"]], needs)
    weights, score = tune_search_weights(found, needs, {"a": 1.0, "b": 0.0}, ("a", "b"))
    assert weights["b"] > weights["a"] and score == pytest.approx((1 + 1 + 1 + 0.5) / 4) and score > before


def test_evaluate_needs_reports_each_search_method_and_the_paired_difference(engine, encoder, tmp_path):
    from hfmrs.evaluation.runner import EvaluationConfig, evaluate_needs

    (tmp_path / "groups.txt").write_text(
        "group speech: acme/wav2vec2-speech\ngroup vision: vision/vit-base, vision/vit-large\n"
    )
    (tmp_path / "n.txt").write_text(
        "need: speech recognition | asr\nanswers: @speech\nneed: transcribe speech | asr\nanswers: @speech\n"
        "need: image classification vit | vision\nanswers: @vision\nneed: classify images | vision\nanswers: @vision\n"
    )
    needs = load_needs(tmp_path, engine.ids.find)
    assert len(needs) == 4
    downloads = {m: engine.ids.downloads_of(m) for m in engine.ids}
    sets = evaluate_needs(engine, needs, encoder, EvaluationConfig(resamples=20), downloads)
    assert sets.keys() == {"needs-report", "needs-tune"}
    block = sets["needs-report"]
    assert block["k"] == [10, 100] and {"fused", "cosine", "bm25", "popularity"} == set(block["methods"])
    assert block["methods"]["fused"]["hit_rate@10"]["value"] == 1.0
    assert block["paired"]["method"] == "fused"
    assert set(block["paired"]["versus"]["cosine"]) == {"hit_rate@10", "recall@100"}
