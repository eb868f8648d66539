"""The service layer on both backends: the loop, locking, the record it keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import NotFound, StaleVersion, WorkflowError
from cxdesk.models import AuditEntry, FeedbackEvent, FollowUp, Ticket, TimelineEntry
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.audit.chain import entry_digest
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.outcomes import Outcome
from cxdesk.workflow.loop.desk_commands import (
    Analyze,
    Claim,
    Escalate,
    Note,
    Pend,
    Resolve,
    Respond,
    Resume,
)
from cxdesk.workflow.loop.opening import raise_priority
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
SETTINGS = Settings()


@pytest.fixture
def desk(db: Database) -> Database:
    with db.write() as session:
        add_agent(
            session,
            login="ann",
            display_name="Ann Lee",
            role="agent",
            teams=["care"],
            skills=["zh"],
            at=T0,
        )
        add_agent(
            session,
            login="bob",
            display_name="Bob",
            role="supervisor",
            teams=["care"],
            skills=[],
            at=T0,
        )
    return db


def ingest(
    db: Database,
    event_id: str,
    *,
    at: datetime,
    customer: str = "c1",
    tier: str = "standard",
    **fields: object,
):
    event = FeedbackEventIn(
        event_id=event_id,
        occurred_at=at,
        customer=CustomerIn(id=customer, name="王芳", tier=tier),
        **{"kind": "survey", **fields},
    )
    ingestor = Ingestor(db, SETTINGS, source="test", clock=lambda: at)
    return ingestor.ingest_event(event, event.model_dump_json())


def timeline(db: Database, ticket_id: int) -> list[tuple[str, str]]:
    with db.session() as session:
        return [
            (e.kind, e.body)
            for e in session.exec(
                select(TimelineEntry)
                .where(TimelineEntry.ticket_id == ticket_id)
                .order_by(col(TimelineEntry.id))
            )
        ]


def ticket(db: Database, ticket_id: int) -> Ticket:
    with db.session() as session:
        return session.get_one(Ticket, ticket_id)


def test_the_whole_loop_closes_verified(desk: Database) -> None:
    opened = ingest(desk, "e1", at=T0, nps=3, comment="快递晚了")
    assert opened.outcome is Outcome.CREATED and opened.alert is not None
    tid = opened.ticket_id
    ann = TicketService(desk, SETTINGS, "ann")
    t = ann.handle(Claim(tid, at=T0 + timedelta(minutes=5)))
    assert (t.stage, t.assignee) == ("collect", "ann")
    t = ann.handle(Respond(tid, "您好，正在处理", at=T0 + timedelta(hours=1)))
    assert t.first_response_at == T0 + timedelta(hours=1)
    assert t.sla_due == t.resolution_due  # the resolution clock now runs
    t = ann.handle(
        Analyze(tid, root_cause="carrier delay", driver="late_delivery", at=T0 + timedelta(hours=2))
    )
    assert t.stage == "fix"
    t = ann.handle(
        Resolve(
            tid,
            code="refund",
            root_cause="carrier delay",
            action="refunded shipping",
            at=T0 + timedelta(hours=3),
        )
    )
    assert t.stage == "verify" and t.sla_due is None and t.resolved_at is not None
    answer = ingest(
        desk, "f1", at=T0 + timedelta(days=1), kind="followup", nps=9, ticket_id=f"CX-{tid:06d}"
    )
    assert answer.outcome is Outcome.UPDATED
    done = ticket(desk, tid)
    assert (done.stage, done.verify_outcome) == ("closed", "verified")
    kinds = [kind for kind, _ in timeline(desk, tid)]
    assert kinds[0] == "alert" and kinds[-2:] == ["followup", "transition"]
    with desk.session() as session:
        assert session.exec(select(FollowUp.status)).one() == "answered"


def test_a_bad_followup_reopens_raised_and_escalated(desk: Database) -> None:
    tid = ingest(desk, "e1", at=T0, nps=5).ticket_id
    ann = TicketService(desk, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    ann.handle(Resolve(tid, code="fix", root_cause="x", action="y", at=T0 + timedelta(hours=1)))
    ingest(desk, "f1", at=T0 + timedelta(days=2), kind="followup", nps=2, ticket_id=str(tid))
    t = ticket(desk, tid)
    assert (t.stage, t.priority, t.escalation_level, t.reopen_count) == ("analyze", "P1", 1, 1)
    assert t.resolved_at is None and t.resolution_due > T0 + timedelta(days=2)


def test_one_open_case_per_customer_and_priority_only_rises(desk: Database) -> None:
    first = ingest(desk, "e1", at=T0, csat=2)
    second = ingest(desk, "e2", at=T0 + timedelta(hours=1), nps=1, tier="gold")
    third = ingest(desk, "e3", at=T0 + timedelta(hours=2), kind="complaint")
    quiet = ingest(desk, "e4", at=T0 + timedelta(hours=3), nps=10)
    assert first.outcome is Outcome.CREATED
    assert second.outcome is third.outcome is Outcome.UPDATED
    assert first.ticket_id == second.ticket_id == third.ticket_id
    assert quiet.outcome is Outcome.STORED and quiet.ticket_id is None
    t = ticket(desk, first.ticket_id)
    assert t.priority == "P1"  # gold detractor raised it; the later complaint did not lower it
    alerts = [body for kind, body in timeline(desk, first.ticket_id) if kind == "alert"]
    assert len(alerts) == 3 and "P2 → P1" in alerts[1]
    with desk.session() as session:
        linked = session.exec(
            select(FeedbackEvent.event_id)
            .where(FeedbackEvent.ticket_id == first.ticket_id)
            .order_by(FeedbackEvent.event_id)
        ).all()
    assert linked == ["e1", "e2", "e3"]


def test_a_stale_version_is_refused_with_who_and_when(desk: Database) -> None:
    tid = ingest(desk, "e1", at=T0, nps=3).ticket_id
    seen = ticket(desk, tid).version
    TicketService(desk, SETTINGS, "ann").handle(Note(tid, "first", version=seen, at=T0))
    with pytest.raises(StaleVersion, match=r"CX-0+\d+ was changed by Ann Lee at .* — reload"):
        TicketService(desk, SETTINGS, "bob").handle(Note(tid, "second", version=seen, at=T0))
    bodies = [body for kind, body in timeline(desk, tid) if kind == "note"]
    assert bodies == ["first"]


def test_an_illegal_transition_names_the_stages_that_allow_it(desk: Database) -> None:
    tid = ingest(desk, "e1", at=T0, nps=3).ticket_id
    with pytest.raises(
        WorkflowError, match=r"cannot resume .* it is new; resume is allowed in: pending"
    ):
        TicketService(desk, SETTINGS, "ann").handle(Resume(tid, at=T0))
    TicketService(desk, SETTINGS, "ann").handle(Claim(tid, at=T0))
    with pytest.raises(WorkflowError, match="root cause is required"):
        TicketService(desk, SETTINGS, "ann").handle(Analyze(tid, root_cause=" ", driver="x", at=T0))
    with pytest.raises(NotFound, match="no ticket CX-999999"):
        TicketService(desk, SETTINGS, "ann").handle(Note(999999, "x"))


def test_pending_time_is_not_charged(desk: Database) -> None:
    tid = ingest(desk, "e1", at=T0, nps=3).ticket_id  # P2: 24 business hours to first response
    ann = TicketService(desk, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    due_before = ticket(desk, tid).first_response_due
    ann.handle(Pend(tid, "waiting for photos", at=T0 + timedelta(hours=2)))
    assert ticket(desk, tid).sla_due is None
    t = ann.handle(Resume(tid, at=T0 + timedelta(days=1, hours=2)))  # a whole business day later
    assert t.stage == "collect"
    assert t.first_response_due > due_before
    assert t.sla_due == t.first_response_due


def test_every_command_leaves_a_chained_audit_row(desk: Database) -> None:
    tid = ingest(desk, "e1", at=T0, nps=3).ticket_id
    ann = TicketService(desk, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    ann.handle(Escalate(tid, "customer angry", at=T0))
    with desk.session() as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [(r.actor, r.action) for r in rows if r.action != "user"] == [
        (SYSTEM_ACTOR, "audit-key"),  # the chain is keyed from its first row
        (SYSTEM_ACTOR, "open"),
        ("ann", "claim"),
        ("ann", "escalate"),
    ]
    assert desk.audit_key is not None
    key = desk.audit_key.key()
    previous = ""
    for row in rows:
        assert row.digest == entry_digest(
            previous, row.at, row.actor, row.action, row.ticket_id, row.detail, key
        )
        previous = row.digest


def test_escalation_names_the_supervisor_and_stops_at_the_top(desk: Database) -> None:
    from cxdesk.models import Team

    with desk.write() as session:
        session.get_one(Team, "care").supervisor = "bob"
    tid = ingest(desk, "e1", at=T0, nps=3).ticket_id
    ann = TicketService(desk, SETTINGS, "ann")
    ann.handle(Escalate(tid, "angry", at=T0))
    ann.handle(Escalate(tid, "angrier", at=T0))
    with pytest.raises(WorkflowError, match="top of the ladder"):
        ann.handle(Escalate(tid, "angriest", at=T0))
    bodies = [body for kind, body in timeline(desk, tid) if kind == "escalation"]
    assert bodies[0].startswith("escalated to level 1 (bob)")
    assert bodies[1].startswith("escalated to level 2 (CX manager)")


def test_claim_is_refused_when_someone_has_it(desk: Database) -> None:
    tid = ingest(desk, "e1", at=T0, nps=3).ticket_id
    TicketService(desk, SETTINGS, "ann").handle(Claim(tid, at=T0))
    with pytest.raises(WorkflowError, match="already assigned to ann"):
        TicketService(desk, SETTINGS, "bob").handle(Claim(tid, at=T0))


def test_untrusted_text_is_cleaned_where_it_enters(desk: Database) -> None:
    tid = ingest(
        desk, "e1", at=T0, nps=3, comment="ok\x1b[2J\x1b]52;c;ZXZpbA==\x07\u202eevil"
    ).ticket_id
    TicketService(desk, SETTINGS, "ann").handle(Note(tid, "note\x1b[31m red", at=T0))
    with desk.session() as session:
        comment = session.get_one(FeedbackEvent, "e1").comment
    assert "\x1b" not in comment and "\u202e" not in comment and "\x07" not in comment
    assert ("note", "note[31m red") in timeline(desk, tid)


def test_raise_priority_steps_up_and_stops_at_p1() -> None:
    assert [raise_priority(p) for p in ("P3", "P2", "P1")] == ["P2", "P1", "P1"]
