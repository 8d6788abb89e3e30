"""Metric functions against hand-computed values: plain lists, ties, empty results, k beyond the relevant set."""

import math

import numpy as np
import pytest

from hfmrs.evaluation import metrics as m
from hfmrs.evaluation.evaluator import EmbeddingTable, Evaluator

L2, L3 = math.log2(3), math.log2(5)  # discounts of positions 2 and 4 (1-based)
REL_BD = {"b": 1.0, "d": 1.0}
RANKED = ["a", "b", "c", "d"]


def test_plain_list():
    assert m.precision_at_k(RANKED, REL_BD, 2) == 0.5
    assert m.precision_at_k(RANKED, REL_BD, 4) == 0.5
    assert m.recall_at_k(RANKED, REL_BD, 2) == 0.5
    assert m.recall_at_k(RANKED, REL_BD, 4) == 1.0
    assert m.hit_rate_at_k(RANKED, REL_BD, 1) == 0.0
    assert m.hit_rate_at_k(RANKED, REL_BD, 2) == 1.0
    assert m.reciprocal_rank(RANKED, REL_BD) == 0.5
    assert m.reciprocal_rank(RANKED, REL_BD, k=1) == 0.0
    # DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    assert m.ndcg_at_k(RANKED, REL_BD, 4) == pytest.approx((1 / L2 + 1 / L3) / (1 + 1 / L2))
    assert m.ndcg_at_k(RANKED, REL_BD, 4) == pytest.approx(0.650921, abs=1e-6)


def test_empty_results_score_zero():
    for fn in (m.precision_at_k, m.recall_at_k, m.hit_rate_at_k, m.ndcg_at_k):
        assert fn([], REL_BD, 5) == 0.0
    assert m.reciprocal_rank([], REL_BD) == 0.0
    assert math.isnan(m.intra_list_diversity(np.zeros((0, 3))))
    assert math.isnan(m.mean_log_downloads([]))
    assert m.coverage([], 10, 5) == 0.0


def test_no_relevant_scores_zero():
    assert m.recall_at_k(RANKED, {}, 3) == 0.0
    assert m.ndcg_at_k(RANKED, {}, 3) == 0.0
    assert m.recall_at_k(RANKED, {"a": 0.0}, 3) == 0.0  # gain 0 is not relevant


def test_k_beyond_the_relevant_set():
    ranked, rel = ["a", "b", "c"], {"a": 1.0}
    assert m.precision_at_k(ranked, rel, 10) == pytest.approx(0.1)  # divided by k, not by what came back
    assert m.recall_at_k(ranked, rel, 10) == 1.0
    assert m.ndcg_at_k(ranked, rel, 10) == 1.0  # the ideal list has one relevant item only
    assert m.hit_rate_at_k(ranked, rel, 10) == 1.0
    assert m.reciprocal_rank(ranked, rel, 10) == 1.0
    # two relevant, k=10, found at ranks 1 and 3: IDCG = 1 + 1/log2(3), DCG = 1 + 1/log2(4)
    assert m.ndcg_at_k(["a", "x", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(1.5 / (1 + 1 / L2))


def test_ties_are_averaged_over_orders():
    ranked, scores, rel = ["a", "b", "c", "d"], [0.9, 0.5, 0.5, 0.1], {"c": 1.0}
    # c shares ranks 2-3 with b: half the time it is at rank 2
    assert m.expected_hits(ranked, rel, 2, scores) == 0.5
    assert m.precision_at_k(ranked, rel, 2, scores) == 0.25
    assert m.recall_at_k(ranked, rel, 2, scores) == 0.5
    assert m.hit_rate_at_k(ranked, rel, 2, scores) == 0.5
    assert m.reciprocal_rank(ranked, rel, None, scores) == pytest.approx(0.5 * 1 / 2 + 0.5 * 1 / 3)  # 5/12
    assert m.reciprocal_rank(ranked, rel, 2, scores) == pytest.approx(0.25)  # rank 3 is cut off
    # both tied places get the group's mean gain 1/2
    assert m.ndcg_at_k(ranked, rel, 4, scores) == pytest.approx(0.5 * (1 / L2 + 1 / 2))
    # listing the tied items the other way round changes nothing
    swapped = ["a", "c", "b", "d"]
    for fn in (m.precision_at_k, m.recall_at_k, m.hit_rate_at_k, m.ndcg_at_k):
        assert fn(swapped, rel, 2, scores) == fn(ranked, rel, 2, scores)
    # ... while without scores the order is strict
    assert m.precision_at_k(swapped, rel, 2) == 0.5 and m.precision_at_k(ranked, rel, 2) == 0.0


def test_tie_group_straddling_the_cutoff():
    ranked, scores = ["a", "b", "c", "d"], [0.7, 0.7, 0.7, 0.1]
    rel = {"b": 1.0, "c": 1.0}
    # 3 tied, 2 relevant, 1 place above k=1: P(no relevant there) = C(1,1)/C(3,1) = 1/3
    assert m.hit_rate_at_k(ranked, rel, 1, scores) == pytest.approx(2 / 3)
    assert m.expected_hits(ranked, rel, 1, scores) == pytest.approx(2 / 3)
    # first relevant at offset 0 w.p. 2/3, offset 1 w.p. 1/3: E[1/rank] = 2/3 + 1/6
    assert m.reciprocal_rank(ranked, rel, None, scores) == pytest.approx(2 / 3 + 1 / 6)


def test_scores_equal_at_six_decimals_tie():
    ranked, rel = ["a", "b"], {"b": 1.0}
    assert m.precision_at_k(ranked, rel, 1, [0.5, 0.5 - 1e-9]) == 0.5
    assert m.precision_at_k(ranked, rel, 1, [0.5, 0.49]) == 0.0
    # a missing score makes the whole list strict
    assert m.precision_at_k(ranked, rel, 1, [0.5, None]) == 0.0


def test_duplicates_count_once():
    assert m.precision_at_k(["a", "a", "b"], {"a": 1.0}, 2) == 0.5
    assert m.ndcg_at_k(["a", "a"], {"a": 1.0, "b": 1.0}, 2) == pytest.approx(1 / (1 + 1 / L2))


def test_graded_ndcg():
    rel = {"a": 3.0, "b": 1.0}
    assert m.ndcg_at_k(["b", "a"], rel, 2) == pytest.approx((1 + 3 / L2) / (3 + 1 / L2))
    assert m.ndcg_at_k(["a", "b"], rel, 2) == 1.0
    assert m.ndcg_at_k(["a"], rel, 1) == 1.0


def test_diversity_popularity_coverage():
    e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert m.intra_list_diversity(np.stack([e1, e2])) == pytest.approx(1.0)
    assert m.intra_list_diversity(np.stack([e1, e1])) == pytest.approx(0.0)
    assert m.intra_list_diversity(np.stack([e1, e1, e2])) == pytest.approx(2 / 3)  # similarities 1, 0, 0
    assert math.isnan(m.intra_list_diversity(np.stack([e1])))
    assert m.mean_log_downloads([0, math.e - 1]) == pytest.approx(0.5)
    lists = [["a", "b"], ["b", "c"]]
    assert m.coverage(lists, 10, 1) == 0.2
    assert m.coverage(lists, 10, 2) == 0.3


def test_bootstrap_intervals():
    assert m.bootstrap_mean_ci([0.5] * 20) == (0.5, 0.5, 0.5)
    values = [0.0, 1.0] * 50
    mean, low, high = m.bootstrap_mean_ci(values, resamples=1000, seed=1)
    assert mean == 0.5 and low < 0.5 < high and high - low < 0.3
    assert m.bootstrap_mean_ci(values, seed=1) == m.bootstrap_mean_ci(values, seed=1)  # seeded
    assert m.bootstrap_mean_ci([1.0, math.nan, 1.0])[0] == 1.0  # undefined values are left out
    assert all(math.isnan(x) for x in m.bootstrap_mean_ci([math.nan]))
    point, low, high = m.bootstrap_coverage_ci([["a", "b"]], 4, 2)
    assert point == low == high == 0.5
    point, low, high = m.bootstrap_coverage_ci([["a"], ["b"], ["c"], ["d"]], 4, 1, resamples=500)
    assert point == 1.0 and low < 1.0 and high == 1.0  # clipped at the whole catalog
    # resamples repeat queries, so their coverage is low; the shifted interval still holds the estimate
    lists = [[f"m{i}", f"m{i + 1}"] for i in range(0, 200, 2)]
    point, low, high = m.bootstrap_coverage_ci(lists, 400, 2, resamples=300)
    assert point == 0.5 and low < point < high and high - low < 0.2


def test_evaluator_keys_and_values():
    queries = {"q1": "q1", "q2": "q2"}
    relevant = {"q1": {"a": 1.0}, "q2": {"b": 1.0}}
    lists = {"q1": [("a", 0.9), ("c", 0.5)], "q2": [("c", 0.9), ("d", 0.8)]}
    table = EmbeddingTable(["a", "b", "c", "d"], np.eye(4))
    evaluator = Evaluator(
        queries,
        relevant,
        name="toy",
        k_values=(1, 2),
        downloads={"a": 0, "b": 0, "c": 0, "d": 0},
        embeddings=table,
        resamples=100,
    )
    scores = evaluator(lambda q: lists[q])
    assert scores["toy_precision@1"] == 0.5 and scores["toy_recall@2"] == 0.5
    assert scores["toy_mrr@2"] == 0.5 and scores["toy_hit_rate@1"] == 0.5
    assert scores["toy_coverage@1"] == 0.5 and scores["toy_coverage@2"] == 0.75
    assert scores["toy_diversity@2"] == pytest.approx(1.0)  # orthogonal vectors
    assert math.isnan(scores["toy_diversity@1"])  # one item: no pairs
    assert scores["toy_pop_bias@2"] == 0.0
    assert scores["toy_precision@1_low"] <= 0.5 <= scores["toy_precision@1_high"]
    with pytest.raises(ValueError):
        Evaluator(queries, relevant, k_values=(0,))
