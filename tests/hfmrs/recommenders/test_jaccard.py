"""Jaccard through sparse candidates + exact rescoring equals brute-force Jaccard over all pairs."""

import itertools

from hfmrs.engine import order
from hfmrs.recommenders.jaccard import jaccard
from hfmrs.store.base import Hit


def test_jaccard_function():
    assert jaccard({"a", "b"}, {"b", "c"}) == 1 / 3
    assert jaccard(set(), set()) == 0.0
    assert jaccard({"a"}, {"a"}) == 1.0


def test_engine_jaccard_equals_brute_force(engine):
    payloads = {m: engine.info(m) for m in engine.ids}
    for query in payloads:
        mine = set(payloads[query]["tokens"])
        brute = [
            Hit(other, jaccard(mine, set(p["tokens"])), p)
            for other, p in payloads.items()
            if other != query and jaccard(mine, set(p["tokens"])) > 0
        ]
        expected = [h.model_id for h in order(brute, "score")][:5]
        got = [r.id for r in engine.similar(query, k=5, method="jaccard", collapse=False).results]
        assert got == expected, query


def test_pairs_are_symmetric(engine):
    ids = list(engine.ids)[:6]
    for a, b in itertools.combinations(ids, 2):
        ta, tb = set(engine.info(a)["tokens"]), set(engine.info(b)["tokens"])
        assert jaccard(ta, tb) == jaccard(tb, ta)
