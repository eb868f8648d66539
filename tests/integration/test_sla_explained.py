"""A ticket's SLA clocks explained from what the service recorded, on both backends: the
explanation's due times are the ticket's stored ones through pauses, a priority raise by a
later alert (onto another calendar), a first response, a resolution and a reopen."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from cxdesk.config import AlertRuleConfig
from cxdesk.db import Database
from cxdesk.errors import NotFound
from cxdesk.models import Ticket, TimelineEntry
from cxdesk.workflow.access.permissions import Actor, load_actor
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.clocks.explain import SlaExplanation
from cxdesk.workflow.clocks.stretches import IntervalKind
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop.desk_commands import Claim, Merge, Pend, Reopen, Resolve, Respond, Resume
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.reads.sla import read_ticket_sla
from tests.conftest import Run, engine_for
from tests.integration.test_service import SETTINGS, T0, ingest

H = timedelta(hours=1)


@pytest.fixture
def desk(db: Database) -> Database:
    with db.write() as session:
        for login, team, role in (("ann", "care", "agent"), ("sue", "care", "supervisor")):
            add_agent(
                session,
                login=login,
                display_name=login,
                role=role,
                teams=[team],
                skills=[],
                at=T0,
            )
        add_agent(
            session, login="vic", display_name="Vic", role="agent", teams=["vip"], skills=[], at=T0
        )
    return db


def viewer(db: Database, login: str) -> Actor:
    with db.session() as session:
        return load_actor(session, login, SETTINGS)


def explained(db: Database, ticket_id: int, now: datetime) -> tuple[SlaExplanation, Ticket]:
    explanation = read_ticket_sla(db, SETTINGS, ticket_id, viewer(db, "ann"), now)
    with db.session() as session:
        ticket = session.get_one(Ticket, ticket_id)
    first, resolution = explanation.clocks
    assert (first.due, resolution.due) == (ticket.first_response_due, ticket.resolution_due)
    assert first.agrees and resolution.agrees, (first.replayed_due, resolution.replayed_due)
    assert resolution.given_back == timedelta(seconds=ticket.paused_seconds)
    return explanation, ticket


def test_the_explanation_follows_the_stored_clocks_through_the_loop(desk: Database) -> None:
    opened = ingest(desk, "e1", at=T0, nps=3, comment="快递晚了")  # P2 in aftersales
    tid = opened.ticket_id
    assert tid is not None
    ann = TicketService(desk, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0 + timedelta(minutes=5)))
    ann.handle(Pend(tid, reason="waiting for photos", at=T0 + H))
    ann.handle(Resume(tid, at=T0 + 3 * H))
    explanation, ticket = explained(desk, tid, T0 + 4 * H)
    first, resolution = explanation.clocks
    assert (first.priority, first.calendar, first.target) == ("P2", "cn-business", 24 * H)
    paused = [i for i in first.intervals if i.kind is IntervalKind.PAUSED]
    assert [(p.start, p.end, p.note, p.given_back) for p in paused] == [
        (T0 + H, T0 + 3 * H, "waiting for photos", 2 * H)
    ]
    assert first.counted == 2 * H and first.total_at(first.due) == 24 * H
    assert (first.at_risk_at, first.due) == (ticket.sla_risk_at, ticket.sla_due)

    # An outage alert for the same customer raises the case to P1, on the 24x7 calendar.
    ingest(desk, "e2", at=T0 + 5 * H, nps=2, comment="outage 故障")
    explanation, ticket = explained(desk, tid, T0 + 5 * H)
    first, resolution = explanation.clocks
    assert ticket.priority == "P1"
    assert (first.priority, first.calendar, first.target) == ("P1", "24x7", 2 * H)
    raised = [i for i in first.intervals if i.kind is IntervalKind.RESTARTED]
    assert [(r.start, r.note) for r in raised] == [(T0 + 5 * H, "priority P2 → P1")]
    assert first.state == "breached"  # five hours since the opening, two given back
    with desk.session() as session:
        raised_by = session.exec(
            select(TimelineEntry).where(
                TimelineEntry.ticket_id == tid, TimelineEntry.at == T0 + 5 * H
            )
        ).one()
    assert (raised_by.kind, raised_by.data["priority_from"], raised_by.data["priority_to"]) == (
        "alert",
        "P2",
        "P1",
    )

    ann.handle(Respond(tid, "在处理", at=T0 + 6 * H))
    ann.handle(Resolve(tid, code="refund", root_cause="late", action="refunded", at=T0 + 7 * H))
    TicketService(desk, SETTINGS, "sue").handle(Reopen(tid, reason="late", at=T0 + 30 * H))
    explanation, ticket = explained(desk, tid, T0 + 31 * H)
    first, resolution = explanation.clocks
    assert (first.state, first.stopped_at) == ("missed", T0 + 6 * H)
    assert resolution.intervals[0].kind is IntervalKind.RESTARTED
    assert (resolution.started_at, resolution.intervals[0].note) == (T0 + 30 * H, "reopened")
    assert resolution.counted == H and resolution.state == "running"


def test_the_pause_is_recorded_with_its_reason_and_the_resume_from_pending(
    desk: Database,
) -> None:
    tid = ingest(desk, "e1", at=T0, nps=3).ticket_id
    assert tid is not None
    ann = TicketService(desk, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    ann.handle(Pend(tid, reason="on hold", at=T0 + H))
    ann.handle(Resume(tid, at=T0 + 2 * H))
    with desk.session() as session:
        entries = session.exec(
            select(TimelineEntry)
            .where(TimelineEntry.ticket_id == tid)
            .order_by(col(TimelineEntry.id))
        ).all()
    note = next(e for e in entries if e.data.get("clock") == "paused")
    assert (note.at, note.data["reason"]) == (T0 + H, "on hold")
    resumed = [e for e in entries if e.kind == "transition" and e.at == T0 + 2 * H]
    assert [(e.body, e.data["stage_from"]) for e in resumed] == [("pending → collect", "pending")]


def test_another_teams_ticket_is_not_found(desk: Database) -> None:
    tid = ingest(desk, "e1", at=T0, nps=3).ticket_id
    assert tid is not None
    with pytest.raises(NotFound, match="no ticket CX-"):
        read_ticket_sla(desk, SETTINGS, tid, viewer(desk, "vic"), T0)


def test_ticket_sla_on_the_command_line(new_db: str, run: Run) -> None:
    db = ("--db", new_db, "--now", "2026-03-02T09:00:00+08:00")
    assert run(*db, "init")[0] == 0
    assert run(*db, "user", "add", "vic", "--name", "Vic", "--team", "vip")[0] == 0
    feed = (
        '{"event_id": "e1", "kind": "survey", "occurred_at": "2026-03-02T09:00:00+08:00", '
        '"customer": {"id": "c1"}, "nps": 2}\n'
    )
    with open("feed.jsonl", "w", encoding="utf-8") as out:
        out.write(feed)
    assert run(*db, "ingest", "feed.jsonl")[0] == 0
    assert run(*db, "ticket", "claim", "1")[0] == 0
    ten = ("--db", new_db, "--now", "2026-03-02T10:00:00+08:00")
    assert run(*ten, "ticket", "pend", "1", "--reason", "photos")[0] == 0
    # A reason stored before text was cleaned, holding a terminal's control sequences.
    engine = engine_for(new_db)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE timeline_entries SET data = :d WHERE body LIKE 'pending:%'"),
            {"d": json.dumps({"clock": "paused", "reason": "photos \x1b]2;PWNED\x07"})},
        )
    engine.dispose()
    later = ("--db", new_db, "--now", "2026-03-02T12:00:00+08:00")
    code, out, err = run(*later, "ticket", "sla", "CX-1")
    assert code == 0, err
    assert "first response: P2, policy default, calendar cn-business, target 24h 00m" in out
    assert "paused" in out and "photos \\x1b]2;PWNED\\x07" in out
    assert "\x1b" not in out
    code, out, err = run(*later, "ticket", "sla", "1", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ticket"] == "CX-000001"
    first = data["clocks"][0]
    assert (first["clock"], first["state"], first["agrees"]) == ("first_response", "paused", True)
    assert first["intervals"][-1]["note"] == "photos \x1b]2;PWNED\x07"
    assert first["counted_seconds"] == 3600  # 09:00–10:00, then pending
    assert "\x1b" not in out  # escaped as \u001b inside the JSON string
    code, out, err = run(*db, "--as", "vic", "ticket", "sla", "1")
    assert code != 0 and "no ticket CX-000001" in err and out == ""


def test_a_merge_that_raises_the_priority_records_it_and_the_clocks_follow(
    desk: Database,
) -> None:
    kept = ingest(desk, "e1", at=T0, nps=3).ticket_id  # P2
    assert kept is not None
    with desk.write() as session:  # a second open case of the customer, made by hand
        session.execute(sa.text("UPDATE tickets SET stage = 'closed' WHERE id = :id"), {"id": kept})
    duplicate = ingest(desk, "e2", at=T0 + H, nps=2, comment="outage").ticket_id  # P1
    assert duplicate is not None and duplicate != kept
    with desk.write() as session:
        session.execute(
            sa.text("UPDATE tickets SET stage = 'collect' WHERE id = :id"), {"id": kept}
        )
    TicketService(desk, SETTINGS, "sue").handle(Merge(duplicate, kept, at=T0 + 2 * H))
    with desk.session() as session:
        link = session.exec(
            select(TimelineEntry).where(
                TimelineEntry.ticket_id == kept, TimelineEntry.kind == "link"
            )
        ).one()
    assert (link.data["priority_from"], link.data["priority_to"]) == ("P2", "P1")
    explanation, ticket = explained(desk, kept, T0 + 3 * H)
    first, _ = explanation.clocks
    assert ticket.priority == first.priority == "P1"
    assert [(i.start, i.note) for i in first.intervals if i.kind is IntervalKind.RESTARTED] == [
        (T0 + 2 * H, "priority P2 → P1")
    ]


def test_two_raises_in_one_pause_count_only_the_time_worked(desk: Database) -> None:
    # A passive's P3 case, raised to P2 by a detractor's answer and to P1 (24x7) by an outage
    # while it waits: the raises plan again from the opening, the pause is given back whole.
    passive = AlertRuleConfig(
        name="passive", condition="nps == 7", priority="P3", queue="aftersales"
    )
    settings = SETTINGS.model_copy(update={"rules": [passive, *SETTINGS.rules]})

    def alert(event_id: str, at: datetime, **fields: object) -> int | None:
        event = FeedbackEventIn(
            event_id=event_id, occurred_at=at, customer=CustomerIn(id="c1"), kind="survey", **fields
        )
        ingestor = Ingestor(desk, settings, source="test", clock=lambda: at)
        return ingestor.ingest_event(event, event.model_dump_json()).ticket_id

    tid = alert("e1", T0, nps=7)
    assert tid is not None
    ann = TicketService(desk, settings, "ann")
    ann.handle(Claim(tid, at=T0))
    ann.handle(Pend(tid, reason="on hold", at=T0 + H))
    assert alert("e2", T0 + 2 * H, nps=3) == tid
    assert alert("e3", T0 + 3 * H, nps=2, comment="outage") == tid
    ann.handle(Resume(tid, at=T0 + 4 * H))
    explanation, ticket = explained(desk, tid, T0 + 5 * H)
    first, resolution = explanation.clocks
    assert ticket.priority == first.priority == "P1" and first.calendar == "24x7"
    raises = [i for i in first.intervals if i.kind is IntervalKind.RESTARTED]
    assert [(r.note, r.counted, r.total) for r in raises] == [
        ("priority P3 → P2", timedelta(0), H),
        ("priority P2 → P1", timedelta(0), H),
    ]
    for clock in (first, resolution):
        assert (clock.counted, clock.given_back) == (2 * H, 3 * H)  # 9–10 and 13–14 worked
