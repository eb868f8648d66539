"""The rows of the large demo, one tuple per row in the order of its table's columns, as
SQLAlchemy would store them on SQLite: what `LargeDemo` writes with the driver's executemany
(and the sweep benchmark builds its own tickets from)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from cxdesk.i18n import say
from cxdesk.models import TicketKind
from cxdesk.workflow.loop.opening import opening_note

CUSTOMER_COLUMNS = (
    "id",
    "name",
    "phone",
    "email",
    "tier",
    "attributes",
    "created_at",
    "updated_at",
)
TICKET_COLUMNS = (
    "id",
    "kind",
    "stage",
    "priority",
    "queue_id",
    "assignee",
    "customer_id",
    "rule",
    "title",
    "tags",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "first_response_due",
    "resolution_due",
    "sla_due",
    "sla_risk_at",
    "paused_at",
    "paused_from",
    "escalation_level",
    "reopen_count",
    "paused_seconds",
    "resolution_code",
    "root_cause",
    "driver",
    "touchpoint",
    "action_taken",
    "verify_outcome",
    "version",
    "updated_at",
)
EVENT_COLUMNS = (
    "event_id",
    "kind",
    "occurred_at",
    "received_at",
    "customer_id",
    "channel",
    "touchpoint",
    "nps",
    "csat",
    "comment",
    "drivers",
    "ticket_id",
    "raw",
)
TIMELINE_COLUMNS = ("ticket_id", "at", "actor", "kind", "body", "event_id", "data")


def sql_time(moment: datetime | None) -> str | None:
    """The text SQLAlchemy stores for a DateTime on SQLite (naive UTC, microseconds)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@dataclass(frozen=True, slots=True)
class Complaint:
    """What a customer said, and what the alert rules made of it."""

    kind: str
    nps: int | None
    csat: int | None
    comment: str
    touchpoint: str
    driver: str
    rule: str
    priority: str
    queue_id: str
    tags: list[str]


# -- rows: one tuple per row, in the order of the table's columns above --------------------


def customer_row(customer: Any, created: datetime) -> tuple[Any, ...]:
    """A row of CUSTOMER_COLUMNS."""
    at = sql_time(created)
    return (customer.id, customer.name, customer.phone, customer.email, customer.tier, "{}", at, at)


def ticket_row(ticket: SimpleNamespace) -> tuple[Any, ...]:
    """A row of TICKET_COLUMNS, from a ticket as `LargeDemo._new_ticket` starts it."""
    return (
        ticket.id,
        TicketKind.CASE.value,
        ticket.stage.value,
        ticket.priority,
        ticket.queue_id,
        ticket.assignee,
        ticket.customer_id,
        ticket.rule,
        ticket.title,
        json.dumps(ticket.tags),
        sql_time(ticket.opened_at),
        sql_time(ticket.first_response_at),
        sql_time(ticket.resolved_at),
        sql_time(ticket.closed_at),
        sql_time(ticket.first_response_due),
        sql_time(ticket.resolution_due),
        sql_time(ticket.sla_due),
        sql_time(ticket.sla_risk_at),
        sql_time(ticket.paused_at),
        ticket.paused_from,
        ticket.escalation_level,
        0,
        0,
        ticket.resolution_code,
        ticket.root_cause,
        ticket.driver,
        ticket.touchpoint,
        ticket.action_taken,
        ticket.verify_outcome,
        1,
        sql_time(ticket.opened_at),
    )


def event_row(
    event_id: str,
    complaint: Complaint,
    *,
    at: datetime,
    customer_id: str,
    channel: str,
    ticket_id: int,
) -> tuple[Any, ...]:
    """A row of EVENT_COLUMNS: the feedback event that opened ticket `ticket_id`."""
    return (
        event_id,
        complaint.kind,
        sql_time(at),
        sql_time(at),
        customer_id,
        channel,
        complaint.touchpoint,
        complaint.nps,
        complaint.csat,
        complaint.comment,
        json.dumps([complaint.driver]),
        ticket_id,
        json.dumps({"event_id": event_id, "kind": complaint.kind}),
    )


def alert_entry(ticket: SimpleNamespace, event_id: str) -> dict[str, Any]:
    """A timeline entry: the ticket opened by the alert on event `event_id`."""
    note = opening_note(ticket.queue_id, ticket.priority, ticket.rule)
    data = {"rule": ticket.rule, "say": note.stored()}
    return _entry(ticket.id, ticket.opened_at, "cxdesk", "alert", str(note), event_id, data)


def claim_entry(ticket_id: int, at: datetime, assignee: str) -> dict[str, Any]:
    """A timeline entry: the ticket claimed by `assignee`."""
    note = say("claimed by {actor}", actor=assignee)
    data = {"assignee": assignee, "say": note.stored()}
    return _entry(ticket_id, at, assignee, "assignment", str(note), None, data)


def _entry(*values: Any) -> dict[str, Any]:
    return dict(zip(TIMELINE_COLUMNS, values, strict=True))


def timeline_row(entry: dict[str, Any]) -> tuple[Any, ...]:
    """A row of TIMELINE_COLUMNS, from an entry as `alert_entry` and `claim_entry` make it."""
    return (
        entry["ticket_id"],
        sql_time(entry["at"]),
        entry["actor"],
        entry["kind"],
        entry["body"],
        entry["event_id"],
        json.dumps(entry["data"], ensure_ascii=False),
    )
