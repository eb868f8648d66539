"""One ticket's SLA clocks explained (`clocks.explain`), with the history they need read back
from the record: the audit's state after each command (stage and priority), the pending
reasons and the sweep's notes on the timeline."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import NotFound, UnusableTicket
from cxdesk.i18n import say
from cxdesk.models import AuditEntry, Queue, Stage, Ticket, TimelineEntry, TimelineKind
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.clocks.calendar import Unmeasurable
from cxdesk.workflow.clocks.explain import (
    FIRST_RESPONSE,
    RESOLUTION,
    ClockExplanation,
    ClockNote,
    Happening,
    SlaExplanation,
    Step,
    explain_clocks,
)
from cxdesk.workflow.clocks.sla import KNOWN_PRIORITIES, SlaPlanner

_DONE = frozenset({Stage.VERIFY, Stage.CLOSED})
_PENDING_TEMPLATE = "pending: {reason}"
_CLOCK_NAMES = {"first response": FIRST_RESPONSE, "resolution": RESOLUTION}


def ticket_sla(
    session: Session, settings: Settings, ticket_id: int, viewer: Actor, now: datetime
) -> SlaExplanation:
    """The clocks of one ticket as `viewer` may see it: out of their scope it does not
    exist for them."""
    ref = ticket_ref(ticket_id)
    ticket = session.get(Ticket, ticket_id)
    scope = visible_queues(session, viewer)
    if ticket is None or (scope is not None and ticket.queue_id not in scope):
        raise NotFound(say("no ticket {ref}", ref=ref))
    queue = session.get(Queue, ticket.queue_id)
    if queue is None:
        raise UnusableTicket(
            say(
                "{ref} is in a queue that no longer exists: {queue}",
                ref=ref,
                queue=repr(ticket.queue_id),
            )
        )
    if ticket.priority not in KNOWN_PRIORITIES:
        raise UnusableTicket(
            say("{ref} has an unknown priority {priority}", ref=ref, priority=repr(ticket.priority))
        )
    entries = list(
        session.exec(
            select(TimelineEntry)
            .where(TimelineEntry.ticket_id == ticket_id)
            .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
        )
    )
    audit = session.exec(
        select(AuditEntry).where(AuditEntry.ticket_id == ticket_id).order_by(col(AuditEntry.id))
    )
    history = happenings(
        ((a.at, a.detail or {}) for a in audit), pending_reasons(entries), ticket.priority
    )
    if not history:
        history = _guessed(ticket)
    try:
        return explain_clocks(
            SlaPlanner(settings), queue, ticket, ticket_id, history, clock_notes(entries), now
        )
    except Unmeasurable as exc:
        raise UnusableTicket(f"{ref}: {exc}") from None


def read_ticket_sla(
    db: Database, settings: Settings, ticket_id: int, viewer: Actor, now: datetime
) -> SlaExplanation:
    """`ticket_sla` in a session of its own."""
    with db.session() as session:
        return ticket_sla(session, settings, ticket_id, viewer, now)


def happenings(
    audit: Iterable[tuple[datetime, dict[str, Any]]],
    reasons: dict[datetime, str],
    priority_now: str,
) -> list[Happening]:
    """What the clocks answer to, read off the audit's state after each command (oldest
    first): the opening, pauses and resumes, priority raises, reopens and stops. A row
    without a state (none is known to exist) changes nothing; a priority never recorded is
    the ticket's own."""
    found: list[Happening] = []
    state: dict[str, Any] = {}
    for at, detail in audit:
        after = {**state, **(detail.get("state") or {})}
        before_stage, stage = state.get("stage"), after.get("stage")
        priority = str(after.get("priority") or priority_now)
        step = None
        if not found:
            step = Step.OPEN
        elif stage == Stage.PENDING and before_stage != Stage.PENDING:
            step = Step.PEND
        elif stage in _DONE and before_stage not in _DONE:
            step = Step.STOP
        elif before_stage == Stage.PENDING and stage != Stage.PENDING:
            step = Step.RESUME
        elif before_stage in _DONE and stage not in _DONE:
            step = Step.REOPEN
        elif priority != state.get("priority"):
            step = Step.PRIORITY
        if step is not None:
            found.append(Happening(at, step, priority, reasons.get(at, "")))
        state = after
    return found


def pending_reasons(entries: Iterable[TimelineEntry]) -> dict[datetime, str]:
    """Each pause's reason by its instant: the pend's note, marked `clock: paused` since
    that was recorded, and known by its text before."""
    reasons = {}
    for entry in entries:
        data = entry.data or {}
        said = data.get("say")
        if data.get("clock") == "paused":
            reasons[entry.at] = str(data.get("reason", entry.body))
        elif (
            entry.kind == TimelineKind.NOTE
            and isinstance(said, list)
            and len(said) == 2
            and said[0] == _PENDING_TEMPLATE
            and isinstance(said[1], dict)
        ):
            reasons[entry.at] = str(said[1].get("reason", entry.body))
    return reasons


def clock_notes(entries: Iterable[TimelineEntry]) -> list[ClockNote]:
    """The sweep's at-risk notes (they name the due time) and breach escalations."""
    notes = []
    for entry in entries:
        data = entry.data or {}
        clock = _CLOCK_NAMES.get(str(data.get("clock")))
        if entry.kind == TimelineKind.ESCALATION and clock is not None:
            kind = "risk_noted" if "due" in data else "escalated"
            notes.append(ClockNote(entry.at, clock, kind, entry.body, data.get("say")))
    return notes


def _guessed(ticket: Ticket) -> list[Happening]:
    """A ticket with no audit (written outside cxdesk): opened at its current priority,
    reopened and paused where it says it last was."""
    guessed = [Happening(ticket.opened_at, Step.OPEN, ticket.priority)]
    if ticket.reopened_at is not None:
        guessed.append(Happening(ticket.reopened_at, Step.REOPEN, ticket.priority))
    if ticket.paused_at is not None and ticket.stage == Stage.PENDING:
        guessed.append(Happening(ticket.paused_at, Step.PEND, ticket.priority))
    return guessed


def sla_json(explanation: SlaExplanation) -> dict[str, Any]:
    """The explanation as JSON: instants in ISO 8601, durations in seconds."""
    return {
        "ticket": ticket_ref(explanation.ticket_id),
        "queue": explanation.queue,
        "now": explanation.now.isoformat(),
        "clocks": [_clock_json(c) for c in explanation.clocks],
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _seconds(length: timedelta) -> float:
    return length.total_seconds()


def _clock_json(c: ClockExplanation) -> dict[str, Any]:
    return {
        "clock": c.clock,
        "policy": c.policy,
        "priority": c.priority,
        "target_seconds": _seconds(c.target),
        "calendar": c.calendar,
        "started_at": _iso(c.started_at),
        "stopped_at": _iso(c.stopped_at),
        "state": c.state,
        "due": _iso(c.due),
        "replayed_due": _iso(c.replayed_due),
        "agrees": c.agrees,
        "at_risk_at": _iso(c.at_risk_at),
        "breached_at": _iso(c.breached_at),
        "counted_seconds": _seconds(c.counted),
        "given_back_seconds": _seconds(c.given_back),
        "intervals": [
            {
                "kind": i.kind.value,
                "start": _iso(i.start),
                "end": _iso(i.end),
                "counted_seconds": _seconds(i.counted),
                "total_seconds": _seconds(i.total),
                "note": i.note,
                "given_back_seconds": _seconds(i.given_back),
                "ahead": i.ahead,
            }
            for i in c.intervals
        ],
        "marks": [{"at": _iso(m.at), "kind": m.kind, "note": m.note} for m in c.marks],
    }
