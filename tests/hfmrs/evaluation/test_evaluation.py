"""`hfmrs evaluate`: ground truth from held-out lineage, baselines, the evaluation build, the CLI."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from hfmrs.catalog import load_catalog
from hfmrs.embedding import KeywordEncoder
from hfmrs.engine import Engine
from hfmrs.evaluation import cli as eval_cli
from hfmrs.evaluation.baselines import DenseRanker, popularity_ranking, random_ranking, seed_soup
from hfmrs.evaluation.ground_truth import (
    family_ground_truth,
    humanise,
    lineage_ground_truth,
    text_ground_truth,
)
from hfmrs.evaluation.runner import EvaluationConfig, LeakError, check_no_leak, run_evaluation
from hfmrs.lineage import Edge, LineageSplit, lineage_edges, split_lineage
from hfmrs.pipeline import build
from hfmrs.settings import BUNDLED_DATA, get_settings
from tests.conftest import KEYWORDS


def edge(child: str, parent: str) -> Edge:
    return Edge(child, parent, "finetune", "tags")


def test_lineage_ground_truth_uses_test_edges_only():
    split = LineageSplit(
        train=(edge("t1", "p"), edge("t2", "t3")),
        test=(edge("c1", "p"), edge("c2", "p"), edge("x", "c1")),
    )
    truth = lineage_ground_truth(split)
    assert truth.relevant == {
        "c1": {"p": 1.0, "c2": 1.0, "x": 1.0},  # parent, sibling, child
        "c2": {"p": 1.0, "c1": 1.0},
        "p": {"c1": 1.0, "c2": 1.0},  # t1 is a child by a *train* edge: not relevant
        "x": {"c1": 1.0},
    }
    assert truth.queries == {q: q for q in truth.relevant}
    assert "t1" not in truth.queries and "t2" not in truth.queries


def test_family_and_text_ground_truth(snapshot_dir):
    catalog = load_catalog(snapshot_dir)
    family = family_ground_truth(catalog)
    # the bert pair: fill-mask, BertForMaskedLM, wikipedia.  The vit pair shares task and dataset but
    # neither lists an architecture nor a known model type, and names alone never make a family.
    assert family.relevant["google-bert/bert-base-uncased"] == {"bert-base-cased": 1.0}
    assert "vision/vit-base" not in family.relevant
    assert all(q not in rel for q, rel in family.relevant.items())
    assert len(family_ground_truth(catalog, max_queries=1).queries) == 1

    text = text_ground_truth(BUNDLED_DATA / "hf-pipeline-types.json", catalog)
    generation = text.relevant["text generation"]
    assert set(generation) == {r.id for r in catalog if r.pipeline_tag == "text-generation"}
    top = max(math.log1p(r.downloads) for r in catalog)
    gpt2 = catalog.get("openai-community/gpt2")
    assert generation[gpt2.id] == pytest.approx((1 + math.log1p(gpt2.downloads)) / (1 + top))
    assert set(text.relevant["dialogue modeling"]) == set(generation)  # a sub-task of text-generation
    assert "named entity recognition" not in text.queries  # no token-classification model here
    assert humanise("extractive-qa") == "extractive question answering"


def test_dense_ranker_matches_brute_force():
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(40, 8)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = [f"m{i:02d}" for i in range(40)]
    downloads = list(range(40))
    cos = DenseRanker(ids, matrix, downloads, "cosine").rank_ids(ids[:5], 7)
    jac = DenseRanker(ids, matrix, downloads, "jaccard").rank_ids(ids[:5], 7)
    bits = matrix > 0
    for q in range(5):
        sims = matrix @ matrix[q]
        sims[q] = -np.inf
        assert [i for i, _ in cos[ids[q]]] == [ids[j] for j in np.argsort(-sims, kind="stable")[:7]]
        inter = (bits & bits[q]).sum(axis=1)
        union = (bits | bits[q]).sum(axis=1)
        jaccard = inter / union
        got = cos_scores = [s for _, s in jac[ids[q]]]
        assert ids[q] not in [i for i, _ in jac[ids[q]]]
        expected = sorted(np.delete(jaccard, q), reverse=True)[:7]
        assert got == pytest.approx(expected)
        assert cos_scores == sorted(cos_scores, reverse=True)


def test_dense_ranker_breaks_ties_by_downloads():
    matrix = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    ranker = DenseRanker(["q", "low", "high", "far"], matrix, [0, 1, 9, 100], "cosine")
    assert [i for i, _ in ranker.rank_ids(["q"], 3)["q"]] == ["high", "low", "far"]


def test_simple_baselines():
    downloads = {"a": 5, "b": 9, "c": 1}
    pop = popularity_ranking(downloads, 2)
    assert pop("x") == [("b", 9.0), ("a", 5.0)] and pop("b") == [("a", 5.0), ("c", 1.0)]
    first = random_ranking(list(downloads), 2, seed=4)
    again = random_ranking(list(downloads), 2, seed=4)
    lists = [first("a") for _ in range(5)]
    assert lists == [again("a") for _ in range(5)]  # seeded
    assert all(len(x) == 2 and "a" not in [i for i, _ in x] for x in lists)


def test_seed_soup_is_the_prototype_join(snapshot_dir):
    record = load_catalog(snapshot_dir).get("distilbert/distilgpt2")
    text = seed_soup(record)
    assert text.startswith("distilbert/distilgpt2 text-generation transformers ")
    assert "dataset:openwebtext" in text and "GPT2LMHeadModel" in text and text.endswith(" distilbert")


def test_evaluation_end_to_end(settings, tmp_path):
    encoder = KeywordEncoder(KEYWORDS)
    catalog = load_catalog(settings.snapshot_dir)
    split = split_lineage(lineage_edges(catalog, settings.lineage_dir), fraction=1.0)  # every edge held out
    assert split.test
    out = tmp_path / "reports"
    # (the judged set has its own tests: tests/hfmrs/evaluation/test_judged.py)
    config = EvaluationConfig(
        k_values=(2, 5), resamples=50, max_family_queries=10, train=False, judged_dir=None, needs_dir=None
    )
    report = run_evaluation(settings, out, config, encoder=encoder, seed_encoder=encoder, split=split)

    assert (out / "evaluation.md").exists()
    saved = json.loads((out / "evaluation.json").read_text())
    assert saved["sets"].keys() == {"lineage", "family", "text"}
    lineage = saved["sets"]["lineage"]
    assert lineage["stats"]["queries"] == len(lineage_ground_truth(split))
    expected = {"cosine", "jaccard", "random", "popularity", "seed-cosine", "seed-jaccard"}
    assert expected <= set(lineage["methods"])
    text_methods = {"fused", "cosine", "bm25", "random", "popularity", "seed-cosine", "seed-jaccard"}
    assert text_methods == set(saved["sets"]["text"]["methods"])
    cell = lineage["methods"]["cosine"]["ndcg@5"]
    assert cell["low"] <= cell["value"] <= cell["high"]
    assert set(lineage["methods"]["cosine"]) == {
        f"{m}@{k}"
        for m in ("precision", "recall", "ndcg", "mrr", "hit_rate", "coverage", "diversity", "pop_bias")
        for k in (2, 5)
    }
    assert report["winners"]["lineage"]
    assert "## Winners" in (out / "evaluation.md").read_text()

    # its own build in its own home: the serving home has no build, the held-out edges are gone
    assert not (settings.home / "CURRENT").exists()
    eval_settings = settings.model_copy(update={"home": settings.home / "eval"})
    engine = Engine.open(eval_settings)
    try:
        assert check_no_leak(engine, split) == len({e.child for e in split.test})
        payload = engine.info("acme/gpt2-finetuned")
        assert payload["base_model_ids"] == [] and not any(t.startswith("base_model:") for t in payload["tags"])
        assert "base" not in payload["soup"].split()
    finally:
        engine.close()

    # a second run reuses the evaluation build and the cached seed vectors
    calls = encoder.calls
    run_evaluation(settings, out, config, encoder=encoder, seed_encoder=encoder, split=split)
    # only the text queries are embedded again (once for the build's encoder, once for the seed's)
    assert encoder.calls - calls == 2 * saved["sets"]["text"]["stats"]["queries"]


def test_leak_check_catches_a_build_with_the_holdout(settings, encoder):
    catalog = load_catalog(settings.snapshot_dir)
    split = split_lineage(lineage_edges(catalog, settings.lineage_dir), fraction=1.0)
    build(settings, encoder=encoder, show_progress=False)  # an ordinary build keeps every edge
    engine = Engine.open(settings)
    try:
        with pytest.raises(LeakError):
            check_no_leak(engine, split)
    finally:
        engine.close()


def test_cli_evaluate(settings, tmp_path, monkeypatch):
    from hfmrs.cli import app

    encoder = KeywordEncoder(KEYWORDS)
    monkeypatch.setattr(eval_cli, "build_encoder", lambda s: encoder)
    monkeypatch.setattr(eval_cli, "seed_encoder", lambda s: encoder)
    monkeypatch.setenv("HFMRS_HOME", str(settings.home))
    monkeypatch.setenv("HFMRS_SNAPSHOT_DIR", str(settings.snapshot_dir))
    monkeypatch.setenv("HFMRS_VECTOR_CACHE", str(settings.vector_cache))
    get_settings.cache_clear()
    out = tmp_path / "cli-reports"
    try:
        result = CliRunner().invoke(
            app,
            [
                "evaluate",
                "--k",
                "3,5",
                "--out",
                str(out),
                "--resamples",
                "20",
                "--methods",
                "cosine,popularity",
                "--no-train",
            ],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "evaluation.json").read_text())
    assert saved["meta"]["k"] == [3, 5]
    for block in saved["sets"].values():
        assert set(block["methods"]) <= {"cosine", "popularity"}
    assert set(saved["sets"]["family"]["methods"]) == {"cosine", "popularity"}
    bad = CliRunner().invoke(app, ["evaluate", "--k", "0"])
    assert bad.exit_code != 0
