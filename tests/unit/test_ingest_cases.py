"""What a run remembers between batches, without a database: what it keeps, what it lets go."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxdesk.db import WriteStamp
from cxdesk.workflow.intake import cases
from cxdesk.workflow.intake.cases import Case, Memory

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def case(customer_id: str, priority: str = "p3") -> Case:
    return Case(
        id=None,
        customer_id=customer_id,
        queue_id="support",
        stage="new",
        priority=priority,
        opened_at=T0,
        reopened_at=None,
        first_response_at=None,
        first_response_due=None,
        resolution_due=None,
    )


def test_what_a_batch_made_wins_over_what_it_read() -> None:
    memory = Memory()
    opened = case("c1", "p1")
    memory.remember(
        customers=({"c1": {"id": "c1", "name": "old"}}, {"c1": {"id": "c1", "name": "new"}}),
        cases=({"c1": None, "c2": None}, {"c1": opened}),
    )
    assert memory.customers == {"c1": {"id": "c1", "name": "new"}}
    assert memory.cases == {"c1": opened, "c2": None}


def test_the_first_remembered_leave_first_beyond_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cases, "MEMORY_LIMIT", 2)
    memory = Memory()
    memory.remember(customers=({"a": {}, "b": {}},), cases=({"a": None, "b": None},))
    memory.remember(customers=({"c": {}},), cases=({"c": case("c")},))
    assert list(memory.customers) == ["b", "c"]
    assert list(memory.cases) == ["b", "c"]


def test_it_is_forgotten_unless_nothing_was_written_since_the_last_batch() -> None:
    token = object()
    memory = Memory()
    memory.check(WriteStamp(token, 1, 7))
    memory.remember(customers=({"a": {}},), cases=({"a": None},))
    memory.check(WriteStamp(token, 2, 7))  # the next checkout, no other commit: kept
    assert "a" in memory.customers and "a" in memory.cases
    memory.check(WriteStamp(token, 3, 8))  # another connection committed: forgotten
    assert memory.customers == {} and memory.cases == {}
    memory.remember(customers=({"a": {}},), cases=({"a": None},))
    memory.check(None)  # PostgreSQL: never trusted
    assert memory.customers == {} and memory.cases == {} and memory.stamp is None
