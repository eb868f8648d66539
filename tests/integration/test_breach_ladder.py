"""No breach goes unescalated: every clock and stage combination the sweep meets, on both
backends. Each clock escalates once, whatever happened to the other."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Notification
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.loop.commands import MarkAtRisk
from cxdesk.workflow.loop.desk_commands import Claim, Deescalate, Pend, Reopen, Resolve, Resume
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.reads.tickets import TicketFilter, View, read_ticket_page
from cxdesk.workflow.sweep import sweep
from tests.integration.test_sweep import T0, feed, survey, ticket, timeline

FIRST = "first response SLA breached"
RESOLUTION = "resolution SLA breached"
SETTINGS = Settings(cx_managers=["max"])


def staff(db: Database) -> None:
    with db.write() as session:
        for login, role in (("ann", "agent"), ("sue", "supervisor"), ("max", "supervisor")):
            add_agent(
                session,
                login=login,
                display_name=login,
                role=role,
                teams=["care"],
                skills=[],
                at=T0,
            )


def breaches(db: Database, ticket_id: int) -> list[str]:
    """The breaches on the ticket's timeline, in order (at-risk notes left out)."""
    marks = [body.split(":")[0].split(";")[0] for body in timeline(db, ticket_id, "escalation")]
    return [mark for mark in marks if mark.endswith("breached")]


def test_a_case_nobody_answers_climbs_to_level_two(db: Database) -> None:
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    opened = ticket(db, tid)
    assert sweep(db, SETTINGS, opened.first_response_due + timedelta(minutes=1)).breaches == 1
    assert ticket(db, tid).escalation_level == 1
    # still unanswered, it stays in the breached view on its first-response clock
    breached = TicketFilter(view=View.BREACHED, now=opened.resolution_due - timedelta(hours=1))
    assert [row.number for row in read_ticket_page(db, breached, limit=10)] == [tid]
    assert sweep(db, SETTINGS, opened.resolution_due - timedelta(minutes=1)).breaches == 0
    assert sweep(db, SETTINGS, opened.resolution_due + timedelta(minutes=1)).breaches == 1
    assert sweep(db, SETTINGS, opened.resolution_due + timedelta(days=3)).breaches == 0
    escalated = ticket(db, tid)
    assert escalated.escalation_level == 2 and escalated.first_response_at is None
    assert breaches(db, tid) == [FIRST, RESOLUTION]
    with db.session() as session:
        told = session.exec(
            select(Notification.login).where(
                Notification.ticket_id == tid, Notification.kind == "breach"
            )
        ).all()
    assert "max" in told  # the CX manager hears of it


def test_a_sweep_after_long_downtime_escalates_both_clocks_at_once(db: Database) -> None:
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    late = ticket(db, tid).resolution_due + timedelta(days=2)
    assert sweep(db, SETTINGS, late).breaches == 1
    assert ticket(db, tid).escalation_level == 2
    assert breaches(db, tid) == [FIRST, RESOLUTION]
    assert sweep(db, SETTINGS, late + timedelta(days=1)).breaches == 0


def test_a_clock_due_while_pending_does_not_breach_until_it_runs_out_after(
    db: Database,
) -> None:
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    ann = TicketService(db, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    ann.handle(Pend(tid, "waiting for photos", at=T0 + timedelta(minutes=30)))
    due = ticket(db, tid).first_response_due
    assert sweep(db, SETTINGS, due + timedelta(days=2)).breaches == 0
    resumed_at = due + timedelta(days=2)
    ann.handle(Resume(tid, at=resumed_at))
    moved = ticket(db, tid).first_response_due
    assert moved > resumed_at
    assert sweep(db, SETTINGS, moved - timedelta(minutes=1)).breaches == 0
    assert sweep(db, SETTINGS, moved + timedelta(minutes=1)).breaches == 1
    assert breaches(db, tid) == [FIRST]


def test_pending_an_overdue_case_does_not_hide_its_breach(db: Database) -> None:
    """The clock ran out before the sweep looked; pending it then escalates it at once."""
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    ann = TicketService(db, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    overdue = ticket(db, tid).first_response_due + timedelta(minutes=10)
    ann.handle(Pend(tid, "asked the courier", at=overdue))
    pended = ticket(db, tid)
    assert (pended.stage, pended.escalation_level) == ("pending", 1)
    assert pended.first_response_breached_at == overdue
    assert breaches(db, tid) == [FIRST]
    ann.handle(Resume(tid, at=overdue + timedelta(hours=1)))
    assert sweep(db, SETTINGS, overdue + timedelta(hours=2)).breaches == 0
    assert breaches(db, tid) == [FIRST]


def test_a_reopened_case_never_answered_escalates_its_new_resolution_clock(
    db: Database,
) -> None:
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    late = ticket(db, tid).resolution_due + timedelta(minutes=1)
    assert sweep(db, SETTINGS, late).breaches == 1
    ann, sue = TicketService(db, SETTINGS, "ann"), TicketService(db, SETTINGS, "sue")
    ann.handle(Claim(tid, at=late))
    ann.handle(Resolve(tid, code="fix", root_cause="courier", action="refund", at=late))
    sue.handle(Reopen(tid, "customer still waiting", at=late))
    sue.handle(Deescalate(tid, "back with the agent", at=late))
    sue.handle(Deescalate(tid, "back with the agent", at=late))
    reopened = ticket(db, tid)
    assert reopened.escalation_level == 0
    assert reopened.resolution_breached_at is None
    assert reopened.first_response_breached_at is not None  # that breach stays recorded
    assert sweep(db, SETTINGS, reopened.resolution_due + timedelta(minutes=1)).breaches == 1
    assert ticket(db, tid).escalation_level == 2
    assert breaches(db, tid)[-1] == RESOLUTION


def test_a_priority_raised_after_a_breach_brings_the_resolution_breach_forward(
    db: Database,
) -> None:
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))  # P2
    first_due = ticket(db, tid).first_response_due
    assert sweep(db, SETTINGS, first_due + timedelta(minutes=1)).breaches == 1
    raised_at = first_due + timedelta(hours=1)
    feed(db, survey("e2", "c1", raised_at, tier="gold", nps=0))  # to P1, 24×7 targets
    raised = ticket(db, tid)
    assert raised.priority == "P1" and raised.resolution_due < raised_at
    assert sweep(db, SETTINGS, raised_at + timedelta(minutes=1)).breaches == 1
    assert breaches(db, tid) == [FIRST, RESOLUTION]
    assert ticket(db, tid).escalation_level == 2


def test_a_resolved_case_breaches_nothing(db: Database) -> None:
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    ann = TicketService(db, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    ann.handle(
        Resolve(tid, code="fix", root_cause="courier", action="refund", at=T0 + timedelta(hours=1))
    )
    # waiting for its follow-up: no clock runs, however late it gets
    assert sweep(db, SETTINGS, T0 + timedelta(days=6)).breaches == 0
    with db.session() as session:
        assert session.exec(select(col(Notification.id))).all() == []


def test_no_at_risk_note_after_the_breach_was_escalated(db: Database) -> None:
    """Sweeps at once with different instants: one escalates the breach, one that looked
    earlier, inside the at-risk window, comes second and finds it too late to warn."""
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    opened = ticket(db, tid)
    assert sweep(db, SETTINGS, opened.first_response_due + timedelta(minutes=1)).breaches == 1
    # found before the breach was escalated, marked after it:
    marked = TicketService(db, SETTINGS, "cxdesk").handle(
        MarkAtRisk(tid, at=opened.sla_risk_at + timedelta(minutes=1))
    )
    assert marked is False
    assert breaches(db, tid) == [FIRST]
    assert not any("at risk" in body for body in timeline(db, tid, "escalation"))
