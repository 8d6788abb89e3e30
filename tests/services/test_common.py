"""The per-client token bucket behind the rate limit and the "did you mean" budget."""

from __future__ import annotations

import pytest

from services.common import ClientBudget


def test_each_client_has_its_own_bucket(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("services.common.time.monotonic", lambda: clock[0])
    budget = ClientBudget(rate=2.0, burst=2)
    assert [budget.wait("a"), budget.wait("a")] == [0.0, 0.0]
    assert budget.wait("a") == pytest.approx(0.5)  # empty: one token comes in half a second
    assert budget.wait("b") == 0.0  # another client is not affected
    clock[0] += 0.5
    assert budget.wait("a") == 0.0 and budget.wait("a") > 0


def test_forgotten_clients_start_full_and_memory_is_bounded(monkeypatch):
    monkeypatch.setattr("services.common.time.monotonic", lambda: 0.0)
    budget = ClientBudget(rate=1.0, burst=1, max_clients=2)
    assert budget.wait("a") == 0.0 and budget.wait("a") > 0
    budget.wait("b")
    budget.wait("c")  # "a" is the least recently seen: forgotten
    assert len(budget._buckets) == 2 and budget.wait("a") == 0.0
