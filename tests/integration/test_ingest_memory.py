"""What ingest remembers between batches: trusted only while no one else has written."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record, read_jsonl
from cxdesk.workflow.loop.desk_commands import Claim
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.ops.schema import upgrade_database
from tests.integration.test_ingest import mixed_feed

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SETTINGS = Settings()


def records(*events: tuple[str, str, int]) -> list[Record]:
    lines = [
        json.dumps(
            {
                "event_id": event_id,
                "kind": "survey",
                "occurred_at": f"2026-03-02T0{n}:00:00+00:00",
                "customer": {"id": customer, "tier": "silver"},
                "nps": 2,
            }
        )
        for n, (event_id, customer, _) in enumerate(events)
    ]
    return list(read_jsonl(io.StringIO("\n".join(lines) + "\n")))


def two_batches(between: Callable[[], None]) -> Iterator[Record | None]:
    """Customer A alerts in each of two batches of two; `between` runs after the first."""
    first, second = records(("e1", "A", 0), ("e2", "B", 0)), records(("e3", "A", 0))
    yield from first
    between()  # the first batch is committed by the time the feed is asked for more
    yield from second


def ingest(db: Database, feed: Iterator[Record | None]) -> None:
    Ingestor(db, SETTINGS, source="t", clock=lambda: T0, batch_size=2).run(feed)


def cases_of(db: Database, customer: str) -> list[tuple[int, str, int, str | None]]:
    with db.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.text(
                    "SELECT id, stage, version, assignee FROM tickets "
                    "WHERE customer_id = :c ORDER BY id"
                ),
                {"c": customer},
            )
        ]


@pytest.mark.parametrize("backend", ["postgres"])  # its planner's statistics
def test_postgresql_is_given_statistics_as_ingest_fills_a_new_database(db: Database) -> None:
    """Without them it plans each batch's look-up of its keys as a scan of the whole table."""

    def estimated_rows() -> dict[str, float]:
        with db.engine.connect() as connection:
            query = sa.text(
                "SELECT relname, reltuples FROM pg_class "
                "WHERE relname IN ('feedback_events', 'customers', 'tickets')"
            )
            return {name: rows for name, rows in connection.execute(query)}

    assert set(estimated_rows().values()) == {-1}  # never analyzed
    three = records(("e1", "A", 0), ("e2", "B", 0), ("e3", "C", 0), ("e4", "D", 0))
    ingest(db, iter(three[:2]))
    assert estimated_rows() == {"feedback_events": 2, "customers": 2, "tickets": 2}
    ingest(db, iter(three[2:3]))  # a third more: the statistics are left as they were
    assert estimated_rows()["feedback_events"] == 2


def test_a_case_closed_between_batches_gets_no_more_alerts(db: Database) -> None:
    def close_a() -> None:
        with db.write() as session:
            session.execute(sa.text("UPDATE tickets SET stage = 'closed' WHERE customer_id = 'A'"))

    ingest(db, two_batches(close_a))
    cases = cases_of(db, "A")
    assert [stage for _, stage, _, _ in cases] == ["closed", "new"]  # a new case, not the closed


def test_a_claim_between_batches_is_kept_and_its_version_moves_on(db: Database) -> None:
    with db.write() as session:
        add_agent(
            session,
            login="li.na",
            display_name="Li Na",
            role="agent",
            teams=["care"],
            skills=[],
            at=T0,
        )
    claimed: list[int] = []

    def claim_a() -> None:
        ((ticket_id, *_),) = cases_of(db, "A")
        claimed.append(TicketService(db, SETTINGS, "li.na").handle(Claim(ticket_id, at=T0)).version)

    ingest(db, two_batches(claim_a))
    ((_, _, version, assignee),) = cases_of(db, "A")
    assert assignee == "li.na"
    assert version == claimed[0] + 1  # the alert counted from the claimed version


def _ingested(path: Path, lines: list[str], batch: int) -> dict[str, list[tuple]]:
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        sync_org(session, SETTINGS)
    feed = read_jsonl(io.StringIO("\n".join(lines) + "\n"))
    Ingestor(db, SETTINGS, source="t", clock=lambda: T0, batch_size=batch).run(feed)
    with db.engine.connect() as connection:
        tables = {
            "tickets": "SELECT customer_id, stage, priority, version, assignee, sla_due, "
            "sla_risk_at, first_response_due, resolution_due FROM tickets ORDER BY id",
            "customers": "SELECT id, name, tier FROM customers ORDER BY id",
            "timeline": "SELECT ticket_id, kind, body FROM timeline_entries ORDER BY id",
        }
        found = {
            name: [tuple(r) for r in connection.exec_driver_sql(sql)]
            for name, sql in tables.items()
        }
    db.dispose()
    return found


def test_small_batches_that_remember_end_as_one_batch_that_does_not(tmp_path: Path) -> None:
    lines, _ = mixed_feed(seed=7)
    lines = lines + lines[::3]  # the same customers again, in later batches
    remembering = _ingested(tmp_path / "small.db", lines, batch=5)
    whole = _ingested(tmp_path / "whole.db", lines, batch=10_000)
    assert remembering == whole
    assert len(whole["tickets"]) > 5
