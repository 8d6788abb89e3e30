"""Hit cards: the build's copy of hit payloads must answer exactly as Qdrant's payloads do."""

from __future__ import annotations

import uuid

import pytest

from hfmrs.engine import Engine
from hfmrs.filters import Filters
from hfmrs.store.base import HIT_FIELDS, point_id
from hfmrs.store.builds import open_builds
from hfmrs.store.cards import CARDS_DIR, CardWriter, HitCards

QUERIES = ["gpt2", "bert-base-uncased", "vision/vit-base", "distilgpt2"]


def test_the_build_writes_cards_and_the_engine_serves_from_them(engine: Engine):
    cards = engine.store._cards
    assert isinstance(cards, HitCards) and len(cards) == engine.store.count()
    builds = open_builds(engine.settings)
    assert (builds.artifact_dir(engine.build_id) / CARDS_DIR / "keys.npy").exists()
    assert not (builds.artifact_dir(engine.build_id) / f"{CARDS_DIR}.tmp").exists()


@pytest.mark.parametrize("method", ["cosine", "jaccard", "bm25"])
def test_answers_with_cards_equal_answers_from_qdrant_payloads(engine: Engine, method: str):
    filters = [None, Filters(library="transformers"), Filters(min_downloads=100)]
    with_cards = [engine.similar(q, k=8, method=method, filters=f) for q in QUERIES for f in filters]
    sorted_cards = [engine.similar(q, k=8, method=method, sort="recent") for q in QUERIES]
    cards = engine.store._cards
    engine.store.attach_cards(None)
    try:
        plain = [engine.similar(q, k=8, method=method, filters=f) for q in QUERIES for f in filters]
        sorted_plain = [engine.similar(q, k=8, method=method, sort="recent") for q in QUERIES]
    finally:
        engine.store.attach_cards(cards)
    assert with_cards == plain and sorted_cards == sorted_plain
    assert any(r.why for s in with_cards for r in s.results)  # the explanations really were computed


def test_card_payloads_equal_qdrant_hit_payloads(engine: Engine):
    points = list(engine.store.scroll())
    got = engine.store._cards.payloads([point_id(p.id) for p in points])
    for point, card in zip(points, got, strict=True):
        assert card == {k: point.payload[k] for k in HIT_FIELDS if k in point.payload}


def test_unknown_point_ids_and_empty_cards(tmp_path):
    writer = CardWriter(tmp_path / "cards")
    writer.add([(point_id("a/one"), {"id": "a/one", "downloads": 3, "soup": "not kept"})])
    writer.save()
    cards = HitCards.open(tmp_path / "cards")
    assert cards.payloads([point_id("a/one"), uuid.UUID(int=0), point_id("zz/after")]) == [
        {"id": "a/one", "downloads": 3},
        None,
        None,
    ]
    empty = CardWriter(tmp_path / "empty")
    empty.save()
    assert HitCards.open(tmp_path / "empty").payloads([point_id("a/one")]) == [None]
    assert HitCards.open(tmp_path / "missing") is None
    assert cards.payloads([]) == []


def test_a_payload_change_to_hit_fields_detaches_the_cards(engine: Engine):
    engine.store.set_payload(["openai-community/gpt2"], {"cluster": 3})  # not a hit field: cards stay
    assert engine.store._cards is not None
    engine.store.set_payload(["openai-community/gpt2"], {"downloads": 1})
    assert engine.store._cards is None
    query = engine.store.retrieve(["distilbert/distilgpt2"], ["text"])[0]
    hits = engine.store.search("text", query.vectors["text"], 20)
    assert {h.model_id: h.payload["downloads"] for h in hits}["openai-community/gpt2"] == 1


def test_decoded_cards_are_shared_and_no_request_changes_them(engine: Engine):
    """Decoded cards are kept and handed to every request: no method, search or option may change one."""
    import copy

    cards = engine.store._cards
    options = [{}, {"collapse": False}, {"relation": "family"}, {"sort": "downloads-desc"}, {"diversity": 0.5}]
    before = [engine.similar(q, k=5, method=m, **o) for q in QUERIES for m in engine.methods for o in options]
    kept = copy.deepcopy(cards._decoded)
    assert kept  # answers were read from decoded cards
    again = [engine.similar(q, k=5, method=m, **o) for q in QUERIES for m in engine.methods for o in options]
    assert again == before and cards._decoded == kept
    some = next(iter(cards._decoded))
    point = engine.store.retrieve([cards._decoded[some]["id"]])[0]
    assert cards.payloads([point_id(point.id)])[0] is cards._decoded[some]  # the same object, not a new decode
