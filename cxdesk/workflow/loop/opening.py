"""Opening a ticket and putting further alerts on it: one definition of what an opening
writes (`opening_record`), used by the `OpenTicket` handler and by ingest's bulk path alike,
and the timeline texts of alerts and assignments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from typing import Any

from sqlmodel import Session

from cxdesk.db.search_index import Indexed, index_tickets
from cxdesk.i18n import Message, say
from cxdesk.models import (
    Customer,
    FeedbackEvent,
    Priority,
    Queue,
    Stage,
    Ticket,
    TicketKind,
    TimelineKind,
)
from cxdesk.workflow.audit.chain import append_audit, ticket_state
from cxdesk.workflow.basics.text import clean_text
from cxdesk.workflow.loop.assignment import Assigner
from cxdesk.workflow.loop.commands import AttachAlert, OpenTicket
from cxdesk.workflow.loop.problem_scope import link_new_case, record_scope
from cxdesk.workflow.loop.rollups import move_events
from cxdesk.workflow.loop.ticket_events import OPENED, TicketFacts
from cxdesk.workflow.loop.ticket_rows import allocate_ticket_ids, insert_ticket, opening_row
from cxdesk.workflow.loop.unit import (
    Acting,
    Entry,
    Work,
    queue_of,
    reopen_work,
    work_on,
)

_URGENCY = {priority.value: rank for rank, priority in enumerate(Priority)}  # P1 first


def is_more_urgent(priority: str, than: str) -> bool:
    return _URGENCY[priority] < _URGENCY[than]


def raise_priority(priority: str) -> str:
    """One step more urgent (P3 → P2 → P1); P1 stays P1."""
    order = list(Priority)
    return order[max(order.index(Priority(priority)) - 1, 0)].value


def opening_note(queue_id: str, priority: str, rule: str | None) -> Message:
    if rule:
        return say(
            "opened in {queue} as {priority} by rule {rule}",
            queue=queue_id,
            priority=priority,
            rule=rule,
        )
    return say("opened in {queue} as {priority}", queue=queue_id, priority=priority)


def alert_note(rule: str, priority: str, raised_from: str | None) -> Message:
    """The timeline text of an alert attached to an open case."""
    if raised_from:
        return say(
            "alert {rule} ({priority}); priority {before} → {priority}",
            rule=rule,
            priority=priority,
            before=raised_from,
        )
    return say("alert {rule} ({priority})", rule=rule, priority=priority)


def assignment_note(login: str, mode: str) -> Message:
    return say("assigned to {assignee} ({mode})", assignee=login, mode=mode)


@dataclass(frozen=True)
class OpeningRecord:
    """What opening a ticket writes besides its row: the first timeline entries, and the
    detail of its one `open` audit row (which also gets the entries' digests)."""

    entries: tuple[Entry, ...]
    detail: dict[str, Any]


def opening_record(
    *,
    queue_id: str,
    mode: str,
    priority: str,
    rule: str | None,
    event_id: str | None,
    assignee: str | None,
    evidence: tuple[str, dict[str, Any]] | None = None,
) -> OpeningRecord:
    """The opening of a ticket in `queue_id` (assigned by `mode`), as both the command and
    ingest's bulk path write it."""
    entries = [_opening_entry(queue_id, priority, rule, event_id)]
    if assignee is not None:
        entries.append(_assignment_entry(assignee, mode))
    if evidence is not None:
        entries.append(Entry(TimelineKind.ALERT.value, evidence[0], None, evidence[1]))
    detail = {
        "queue": queue_id,
        "priority": priority,
        "rule": rule,
        "assignee": assignee,
        "state": ticket_state(Stage.NEW, assignee, priority, 0, queue_id),
    }
    return OpeningRecord(tuple(entries), detail)


def _opening_entry(queue_id: str, priority: str, rule: str | None, event_id: str | None) -> Entry:
    kind, body, data = _opening_text(queue_id, priority, rule)
    return Entry(kind, body, event_id, data)


# The same for every opening by a rule at a priority (ingest opens thousands): made once and
# shared by the rows, which nothing changes before they are written.
@lru_cache(maxsize=1024)
def _opening_text(
    queue_id: str, priority: str, rule: str | None
) -> tuple[str, str, dict[str, Any]]:
    note = opening_note(queue_id, priority, rule)
    kind = TimelineKind.ALERT if rule else TimelineKind.TRANSITION
    return kind.value, str(note), {"rule": rule, "say": note.stored()}


@lru_cache(maxsize=1024)
def _assignment_entry(assignee: str, mode: str) -> Entry:
    note = assignment_note(assignee, mode)
    data = {"assignee": assignee, "mode": mode, "say": note.stored()}
    return Entry(TimelineKind.ASSIGNMENT.value, str(note), None, data)


@lru_cache(maxsize=1024)
def alert_entry(rule: str, priority: str, raised_from: str | None) -> tuple[str, dict[str, Any]]:
    """An alert put on an open case: the entry's body and data."""
    note = alert_note(rule, priority, raised_from)
    data: dict[str, Any] = {"rule": rule, "say": note.stored()}
    if raised_from:  # the instant the clocks were planned again, for the SLA explanation
        data.update(priority_from=raised_from, priority_to=priority)
    return str(note), data


def open_ticket(acting: Acting, command: OpenTicket, session: Session | None) -> Ticket:
    """Open a ticket inside the caller's transaction (ingest batches many per commit)."""
    assert session is not None, "a ticket is opened inside its caller's transaction"
    queue = queue_of(acting, session, command.queue_id)
    acting.who(session).authorize("open", queue.team_id, "a new ticket")
    return open_in_queue(acting, command, queue, session)


def open_in_queue(acting: Acting, command: OpenTicket, queue: Queue, session: Session) -> Ticket:
    """Open the ticket, its opening authorized by the caller: a case is linked to the open
    problems of its scope; a problem records its scope and links the open cases of it."""
    at = command.at.astimezone(UTC)  # as the ticket's row gives it back
    priority = Priority(command.priority)
    assignee = Assigner(session).pick(
        queue, priority=priority, language=command.language, channel=command.channel
    )
    clocks = acting.planner.opening_clocks(queue, priority, at)  # refused before a number is
    session.flush()  # what the row refers to (a customer the caller added) goes first
    (number,) = allocate_ticket_ids(session.connection(), 1)
    values = opening_row(
        number,
        command.kind,
        queue.id,
        priority,
        command.customer_id,
        assignee,
        command.rule,
        clean_text(command.title)[:500],
        list(command.tags),
        at,
        clocks,
    )
    ticket = insert_ticket(session, values)
    _index(ticket, session)
    record = opening_record(
        queue_id=queue.id,
        mode=queue.assignment,
        priority=ticket.priority,
        rule=command.rule,
        event_id=command.event_id,
        assignee=ticket.assignee,
        evidence=command.evidence,
    )
    work = Work(session, ticket, queue, at, acting.actor, "open", Stage.NEW)
    for entry in record.entries:
        work.add_entry(entry)
    if command.event_id is not None:
        move_events(session, [session.get_one(FeedbackEvent, command.event_id)], ticket)
    append_audit(
        session,
        at=at,
        actor=acting.actor,
        action="open",
        ticket_id=ticket.id,
        detail={**record.detail, **work.detail},
    )
    if acting.outbox.endpoints:
        opened = [(OPENED, {"rule": command.rule})]
        facts = TicketFacts.of(ticket, queue.team_id)
        acting.outbox.write(session.connection(), opened, facts, at, acting.actor)
    if command.scope is not None:
        record_scope(acting, ticket, command.scope, queue.team_id, session)
    elif ticket.kind == TicketKind.CASE:
        link_new_case(acting, ticket, queue.team_id, session)
    return ticket


def _index(ticket: Ticket, session: Session) -> None:
    """Put the new ticket in the word index, as ingest puts its new cases."""
    assert ticket.id is not None  # flushed
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    name = customer.name if customer is not None else None
    indexed = Indexed(
        ticket.id,
        ticket.title,
        ticket.customer_id,
        name,
        ticket.priority,
        ticket.queue_id,
        ticket.kind,
    )
    index_tickets(session.connection(), [indexed])


def attach_alert(acting: Acting, command: AttachAlert, session: Session | None) -> Ticket:
    """Put another alerting event on an open case: priority raised if higher; a case
    waiting for verification goes back to analyze."""
    with work_on(acting, command, session) as work:
        ticket = work.ticket
        raised_from = None
        if is_more_urgent(command.priority, ticket.priority):
            raised_from = ticket.priority
            work.detail.update(priority_from=ticket.priority, priority_to=command.priority)
            ticket.priority = command.priority
            acting.planner.start_clocks(ticket, work.queue, ticket.reopened_at or ticket.opened_at)
        body, data = alert_entry(command.rule, command.priority, raised_from)
        work.add_entry(Entry(TimelineKind.ALERT.value, body, command.event_id, data))
        event = work.session.get_one(FeedbackEvent, command.event_id)
        move_events(work.session, [event], ticket)
        if ticket.stage == Stage.VERIFY:
            reopen_work(
                acting,
                work,
                say("new alert while verifying: reopened"),
                kind=TimelineKind.ALERT,
                event_id=command.event_id,
            )
    return work.ticket
