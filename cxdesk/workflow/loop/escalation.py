"""Up and down the escalation ladder (1 team supervisor, 2 CX manager), by hand and by the
SLA clocks: at-risk notes and breach escalations."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from cxdesk.errors import WorkflowError
from cxdesk.i18n import say
from cxdesk.models import Ticket, TimelineKind
from cxdesk.models.tickets import MAX_ESCALATION
from cxdesk.workflow.basics.instants import local_text
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.commands import EscalateBreach, MarkAtRisk
from cxdesk.workflow.loop.desk_commands import Deescalate, Escalate
from cxdesk.workflow.loop.unit import (
    Acting,
    Work,
    escalation_logins,
    escalation_target,
    required_text,
    work_on,
)

FIRST_RESPONSE, RESOLUTION = "first response", "resolution"


def escalate(acting: Acting, command: Escalate, session: Session | None) -> Ticket:
    """One level up the ladder: 1 team supervisor, 2 CX manager."""
    with work_on(acting, command, session) as work:
        ticket = work.ticket
        if ticket.escalation_level >= MAX_ESCALATION:
            raise WorkflowError(
                say(
                    "{ref} is already at the top of the ladder",
                    ref=ticket_ref(command.ticket_id),
                )
            )
        ticket.escalation_level += 1
        target = escalation_target(acting, work.session, work.queue, ticket.escalation_level)
        body = say(
            "escalated to level {level} ({target}): {reason}",
            level=ticket.escalation_level,
            target=target,
            reason=required_text(command.reason, "reason"),
        )
        work.timeline(TimelineKind.ESCALATION, body, level=ticket.escalation_level, target=target)
        work.notify(
            escalation_logins(acting, work.session, work.queue, ticket.escalation_level),
            "escalation",
            body,
        )
    return work.ticket


def deescalate(acting: Acting, command: Deescalate, session: Session | None) -> Ticket:
    """One level down the ladder, with the reason (supervisors)."""
    with work_on(acting, command, session) as work:
        ticket = work.ticket
        if ticket.escalation_level == 0:
            raise WorkflowError(say("{ref} is not escalated", ref=ticket_ref(command.ticket_id)))
        ticket.escalation_level -= 1
        work.timeline(
            TimelineKind.ESCALATION,
            say(
                "de-escalated to level {level}: {reason}",
                level=ticket.escalation_level,
                reason=required_text(command.reason, "reason"),
            ),
            level=ticket.escalation_level,
        )
    return work.ticket


def mark_at_risk(acting: Acting, command: MarkAtRisk, session: Session | None) -> bool:
    """Note once per running clock that it has passed its at-risk mark."""
    assert command.at is not None, "the sweep says when it looked"
    now = command.at
    with work_on(acting, command, session) as work:
        t = work.ticket
        due = t.sla_due
        risky = due is not None and t.sla_risk_at is not None and t.sla_risk_at <= now < due
        breached = (
            t.first_response_breached_at
            if t.first_response_at is None
            else t.resolution_breached_at
        )
        # A sweep that looked earlier than one that escalated: too late to warn.
        if due is None or not risky or t.risk_notified_for == due or breached is not None:
            work.unchanged = True
        else:
            t.risk_notified_for = due
            clock = FIRST_RESPONSE if t.first_response_at is None else RESOLUTION
            local_due = local_text(due, acting.settings.timezone)
            note = (
                say("first response SLA at risk: due {due}", due=local_due)
                if clock == FIRST_RESPONSE
                else say("resolution SLA at risk: due {due}", due=local_due)
            )
            work.timeline(TimelineKind.ESCALATION, note, clock=clock, due=due.isoformat())
            work.notify([t.assignee], "at_risk", note)
    return not work.unchanged


def escalate_breach(acting: Acting, command: EscalateBreach, session: Session | None) -> bool:
    """Escalate each breached clock once: first response → level 1, resolution → level 2."""
    assert command.at is not None, "the sweep says when it looked"
    with work_on(acting, command, session) as work:
        if not escalate_due_breaches(acting, work, command.at):
            work.unchanged = True
    return not work.unchanged


def breached_clocks(ticket: Ticket, now: datetime) -> list[tuple[str, int]]:
    """The running clocks past due at `now` and not yet escalated, with the level each
    escalates to. Each clock breaches on its own: a case nobody answered breaches its
    resolution clock too. A stopped clock (pending, resolved, closed) does not breach."""
    if ticket.sla_due is None:
        return []
    found = []
    first_due, resolution_due = ticket.first_response_due, ticket.resolution_due
    if (
        ticket.first_response_at is None
        and ticket.first_response_breached_at is None
        and first_due is not None
        and first_due < now
    ):
        found.append((FIRST_RESPONSE, 1))
    if (
        ticket.resolution_breached_at is None
        and resolution_due is not None
        and resolution_due < now
    ):
        found.append((RESOLUTION, 2))
    return found


def escalate_due_breaches(acting: Acting, work: Work, now: datetime) -> bool:
    """Mark and escalate every clock of the ticket that breached by `now` (the sweep's
    work, and a pend's: stopping a clock that is already overdue must not hide its breach).
    Returns whether there was one."""
    breached = breached_clocks(work.ticket, now)
    for clock, level in breached:
        _escalate_breach(acting, work, clock, level, now)
    if breached:
        work.detail.update(clock=", ".join(clock for clock, _ in breached))
    return bool(breached)


def _escalate_breach(acting: Acting, work: Work, clock: str, level: int, now: datetime) -> None:
    t = work.ticket
    if clock == FIRST_RESPONSE:
        t.first_response_breached_at = now
    else:
        t.resolution_breached_at = now
    if t.escalation_level >= level:
        already = (
            say(
                "first response SLA breached; already at escalation level {level}",
                level=t.escalation_level,
            )
            if clock == FIRST_RESPONSE
            else say(
                "resolution SLA breached; already at escalation level {level}",
                level=t.escalation_level,
            )
        )
        work.timeline(TimelineKind.ESCALATION, already, clock=clock)
        return
    t.escalation_level = level
    target = escalation_target(acting, work.session, work.queue, level)
    escalated = (
        say(
            "first response SLA breached: escalated to level {level} ({target})",
            level=level,
            target=target,
        )
        if clock == FIRST_RESPONSE
        else say(
            "resolution SLA breached: escalated to level {level} ({target})",
            level=level,
            target=target,
        )
    )
    work.timeline(TimelineKind.ESCALATION, escalated, level=level, target=target, clock=clock)
    work.notify(
        [*escalation_logins(acting, work.session, work.queue, level), t.assignee],
        "breach",
        escalated,
    )
