"""The hourly rollups: random feeds, ingested in batches (late and out of order, some records
again, some quarantined), leave the rollups as a rebuild from the events makes them, and the
metric alerts read from them are those of the scan of the events, in any configured zone."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cxdesk.config import MetricAlertsConfig, Settings
from cxdesk.db import Database
from cxdesk.models import FeedbackRollup, Ticket
from cxdesk.models.base import table_of
from cxdesk.models.enums import TicketKind
from cxdesk.workflow.insight.metric_alerts import detect_metric_alerts
from cxdesk.workflow.insight.rollup_windows import window_counts
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import read_jsonl
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import Merge
from cxdesk.workflow.loop.rollups import COUNTERS, DIMENSIONS, rebuild
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService
from tests.conftest import DEMO_ADMIN, Run
from tests.integration.metric_scan import scan_metric_alerts

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RECEIVED = T0 + timedelta(days=22)  # after every event of the feeds
ZONES = ("Asia/Shanghai", "Asia/Kolkata", "America/New_York", "UTC")
# Low thresholds, so that the random feeds fire every kind of alert now and then.
LOOSE = MetricAlertsConfig(
    complaint_rise=0.1, complaint_rise_days=1, gold_detractors=1, min_answers=1
)

events = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["survey", "complaint", "review", "followup"]),
        # Minutes over three weeks, with whole hours and the seconds just before them.
        "minute": st.integers(0, 21 * 1440),
        "second": st.sampled_from([0, 0, 59, 30]),
        "customer": st.sampled_from(["c1", "c2", "c3", "c4"]),
        "tier": st.sampled_from([None, "gold", "silver"]),
        "touchpoint": st.sampled_from([None, "delivery", "billing"]),
        "nps": st.none() | st.integers(0, 10),
        "csat": st.none() | st.integers(1, 5),
        "ticket": st.integers(1, 12),  # a follow-up's ticket, which may not exist
    }
)


def _record(n: int, event: dict[str, Any]) -> dict[str, Any]:
    at = T0 + timedelta(minutes=event["minute"], seconds=event["second"])
    record: dict[str, Any] = {
        "event_id": f"e{n}",
        "kind": event["kind"],
        "occurred_at": at.isoformat(),
        "customer": {"id": event["customer"], "tier": event["tier"]},
        "touchpoint": event["touchpoint"],
        "nps": event["nps"],
        "csat": event["csat"],
    }
    if event["kind"] == "followup":
        record["ticket_id"] = f"CX-{event['ticket']:06d}"
        if record["nps"] is None and record["csat"] is None:
            record["csat"] = 3
    return record


def _ingest(db: Database, records: list[dict[str, Any]], batch_size: int) -> None:
    text = "".join(json.dumps(r) + "\n" for r in records)
    ingestor = Ingestor(
        db, Settings(), source="feed", clock=lambda: RECEIVED, batch_size=batch_size
    )
    ingestor.run(read_jsonl(io.StringIO(text)))


def _rollups(db: Database) -> set[tuple[Any, ...]]:
    """The rollups' rows that say something (a row of zeros says nothing)."""
    table = table_of(FeedbackRollup)
    with db.session() as session:
        rows = session.connection().execute(select(table)).all()
    return {tuple(row) for row in rows if any(getattr(row, name) for name in COUNTERS)}


def _rebuilt(db: Database) -> set[tuple[Any, ...]]:
    with db.write() as session:
        kept = _rollups_in(session)
        rebuild(session.connection())
        rebuilt = _rollups_in(session)
        session.rollback()  # leave the counted rows as ingest left them
    assert kept is not None
    return rebuilt


def _rollups_in(session: Any) -> set[tuple[Any, ...]]:
    rows = session.connection().execute(select(table_of(FeedbackRollup))).all()
    return {
        (
            row.dimension,
            row.hour.replace(tzinfo=UTC) if row.hour.tzinfo is None else row.hour,
            row.value,
            *(getattr(row, name) for name in COUNTERS),
        )
        for row in rows
        if any(getattr(row, name) for name in COUNTERS)
    }


def _same_alerts(db: Database, now: datetime, zone: str) -> None:
    config = Settings(timezone=zone, metric_alerts=LOOSE)
    with db.session() as session:
        rolled = detect_metric_alerts(session, config, now)
        scanned = scan_metric_alerts(session, config, now)
    assert sorted(rolled, key=repr) == sorted(scanned, key=repr)


def _same_windows(db: Database, start: datetime, end: datetime, inclusive: bool) -> None:
    with db.session() as session:
        connection = session.connection()
        for dimension in DIMENSIONS:
            rolled = window_counts(connection, dimension, start, end, inclusive=inclusive)
            read = window_counts(
                connection, dimension, start, end, inclusive=inclusive, rolled=False
            )
            assert {k: v for k, v in rolled.items() if any(v)} == {
                k: v for k, v in read.items() if any(v)
            }


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    feed=st.lists(events, min_size=1, max_size=40),
    again=st.lists(st.integers(0, 39), max_size=8),
    batch_size=st.integers(1, 15),
    # Instants near the events' own: (which event, seconds off it, weeks on, zone).
    nows=st.lists(
        st.tuples(
            st.integers(0, 39),
            st.integers(-5400, 5400),
            st.sampled_from([0, 1, 2]),
            st.sampled_from(ZONES),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_rollups_agree_with_the_events(
    db: Database,
    feed: list[dict[str, Any]],
    again: list[int],
    batch_size: int,
    nows: list[tuple[int, int, int, str]],
) -> None:
    # Each example adds to the same database: ids go on from those already stored.
    with db.session() as session:
        stored = session.connection().exec_driver_sql("SELECT count(*) FROM feedback_events")
        start = int(stored.scalar_one()) + 1000 * len(feed)
    records = [_record(start + n, event) for n, event in enumerate(feed)]
    repeated = [records[i] for i in again if i < len(records)]  # duplicates, counted once
    _ingest(db, records + repeated, batch_size)
    _ingest(db, repeated, batch_size)
    assert _rollups_in_db(db) == _rebuilt(db)
    times = [datetime.fromisoformat(r["occurred_at"]) for r in records]
    for index, seconds, weeks, zone in nows:
        near = times[index % len(times)] + timedelta(seconds=seconds)
        _same_windows(db, near, near + timedelta(days=7 * weeks, seconds=seconds), weeks == 1)
        _same_alerts(db, near + timedelta(days=7 * weeks), zone)


def _rollups_in_db(db: Database) -> set[tuple[Any, ...]]:
    with db.session() as session:
        return _rollups_in(session)


def _event(event_id: str, hours: int, **fields: Any) -> dict[str, Any]:
    at = (T0 + timedelta(hours=hours)).isoformat()
    return {"event_id": event_id, "occurred_at": at, "customer": {"id": "c1"}, **fields}


def test_opening_on_an_event_and_merging_move_its_counts(db: Database) -> None:
    """An event a case is opened on is counted in that case's queue from then on; a merged
    case's events, in the queue of the case they were merged into."""
    _ingest(db, [_event("n1", 1, kind="survey", nps=1, csat=2)], 10)  # opens a case
    _ingest(db, [_event("n2", 2, kind="review", csat=5)], 10)  # opens none
    service = TicketService(db, Settings(), SYSTEM_ACTOR)
    with db.session() as session:
        (first,) = session.exec(select(Ticket.id, Ticket.queue_id)).all()
    other = "billing" if first.queue_id != "billing" else "aftersales"  # of the same team
    opened = T0 + timedelta(hours=3)
    with db.write() as session:
        second = service.handle(
            OpenTicket(
                kind=TicketKind.CASE,
                queue_id=other,
                priority="P3",
                title="again",
                at=opened,
                customer_id="c1",
                event_id="n2",
            ),
            session,
        )
    assert second.id is not None
    service.handle(Merge(first.id, second.id, at=opened + timedelta(hours=1)))
    assert _rollups_in_db(db) == _rebuilt(db)
    queues = {row[2]: row[3:] for row in _rollups_in_db(db) if row[0] == "queue"}
    assert set(queues) == {other}


def test_rebuild_rollups_counts_events_written_past_ingest(demo_copy: str, run: Run) -> None:
    """Rows lost or changed by hand are found and counted again; a second rebuild finds
    nothing off."""
    db = Database.open(demo_copy)
    before = _rollups_in_db(db)
    with db.write() as session:
        session.connection().exec_driver_sql(
            "DELETE FROM feedback_rollups WHERE dimension = 'touchpoint'"
        )
    db.dispose()
    code, out, err = run("--db", demo_copy, "--as", DEMO_ADMIN, "db", "rebuild-rollups")
    assert code == 0, err
    touchpoints = sum(1 for row in before if row[0] == "touchpoint")
    assert f"{len(before):,} rows; {touchpoints:,} differed" in out
    code, out, _ = run("--db", demo_copy, "--as", DEMO_ADMIN, "db", "rebuild-rollups")
    assert f"{len(before):,} rows; 0 differed" in out
    assert _rollups_in_db(Database.open(demo_copy)) == before
