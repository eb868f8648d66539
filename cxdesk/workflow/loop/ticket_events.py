"""What webhook receivers hear of tickets: the events a change made (opened, escalated,
breached, resolved, verified, reopened), as JSON, put in the outbox in the transaction of
the change itself, so that a crash after the commit loses none and a rollback sends none.

The events of a command are found at the unit of work's one seam (`unit._finish`) by
comparing the ticket as the command found it with the ticket as it leaves it: every handler,
the sweep's and the follow-ups' included, passes there, so no handler has to remember to tell.
Openings, which have no "before", say so themselves (`loop.opening`, ingest's bulk path)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection

from cxdesk.config import Settings
from cxdesk.config.webhooks import WebhookEndpoint
from cxdesk.db import insert_rows
from cxdesk.models import Ticket, WebhookDelivery
from cxdesk.models.base import table_of
from cxdesk.models.webhooks import PENDING
from cxdesk.workflow.basics.refs import ticket_ref

_outbox = table_of(WebhookDelivery)
OPENED, ESCALATED, BREACHED = "ticket.opened", "ticket.escalated", "ticket.breached"
RESOLVED, VERIFIED, REOPENED = "ticket.resolved", "ticket.verified", "ticket.reopened"


class TicketFacts(NamedTuple):
    """The ticket as an event shows it: no names, phones or e-mails, only the customer's id."""

    id: int
    kind: str
    queue_id: str
    team_id: str
    priority: str
    stage: str
    customer_id: str | None
    assignee: str | None
    escalation_level: int

    @classmethod
    def of(cls, ticket: Ticket, team_id: str) -> TicketFacts:
        assert ticket.id is not None, "an event's ticket has its number"
        return cls(
            ticket.id,
            str(ticket.kind),
            ticket.queue_id,
            team_id,
            str(ticket.priority),
            str(ticket.stage),
            ticket.customer_id,
            ticket.assignee,
            ticket.escalation_level,
        )

    def shown(self) -> dict[str, Any]:
        return {
            "ref": ticket_ref(self.id),
            "id": self.id,
            "kind": self.kind,
            "queue": self.queue_id,
            "team": self.team_id,
            "priority": self.priority,
            "stage": self.stage,
            "customer_id": self.customer_id,
            "assignee": self.assignee,
            "escalation_level": self.escalation_level,
        }


@dataclass(frozen=True)
class Before:
    """What of a ticket the events compare, as the command found it."""

    stage: str
    escalation_level: int
    first_response_breached_at: datetime | None
    resolution_breached_at: datetime | None
    resolved_at: datetime | None
    verify_outcome: str | None
    reopen_count: int

    @classmethod
    def of(cls, ticket: Ticket) -> Before:
        return cls(
            str(ticket.stage),
            ticket.escalation_level,
            ticket.first_response_breached_at,
            ticket.resolution_breached_at,
            ticket.resolved_at,
            ticket.verify_outcome,
            ticket.reopen_count,
        )


def changes(before: Before, ticket: Ticket, command: str) -> list[tuple[str, dict[str, Any]]]:
    """The events one command made of `ticket`, each with its details, in the order a
    receiver reads them best: a breach before the escalation it caused, a reopening before
    the escalation that came with it."""
    found: list[tuple[str, dict[str, Any]]] = []
    if ticket.first_response_breached_at is not None and before.first_response_breached_at is None:
        found.append((BREACHED, {"clock": "first_response", "due": _at(ticket.first_response_due)}))
    if ticket.resolution_breached_at is not None and before.resolution_breached_at is None:
        found.append((BREACHED, {"clock": "resolution", "due": _at(ticket.resolution_due)}))
    if ticket.resolved_at is not None and ticket.resolved_at != before.resolved_at:
        found.append((RESOLVED, {"resolution_code": ticket.resolution_code}))
    if ticket.verify_outcome is not None and before.verify_outcome is None:
        found.append((VERIFIED, {"outcome": ticket.verify_outcome}))
    if ticket.reopen_count > before.reopen_count:
        details = {"reopen_count": ticket.reopen_count, "from_stage": before.stage}
        found.append((REOPENED, {**details, "command": command}))
    if ticket.escalation_level > before.escalation_level:
        levels = {"level": ticket.escalation_level, "from_level": before.escalation_level}
        found.append((ESCALATED, {**levels, "command": command}))
    return found


def _at(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def event_body(
    event_id: str,
    kind: str,
    at: datetime,
    ticket: TicketFacts,
    actor: str,
    details: dict[str, Any],
) -> str:
    """The JSON a receiver gets: control characters escaped, other text as UTF-8."""
    payload = {
        "id": event_id,
        "kind": kind,
        "occurred_at": at.isoformat(),
        "ticket": ticket.shown(),
        "actor": actor,
        "details": details,
    }
    return orjson.dumps(payload).decode()


class Outbox:
    """The endpoints of the settings, and the outbox rows an event makes for those that
    want it: one per endpoint, all with the event's one id (receivers de-duplicate by it)."""

    def __init__(self, settings: Settings) -> None:
        self.endpoints: list[WebhookEndpoint] = list(settings.webhooks.endpoints)

    def rows(
        self,
        events: Iterable[tuple[str, dict[str, Any]]],
        ticket: TicketFacts,
        at: datetime,
        actor: str,
    ) -> list[dict[str, Any]]:
        made = []
        written = datetime.now(UTC)  # due at once, by the clock the deliverer reads
        for kind, details in events:
            wanted = [
                e.name for e in self.endpoints if e.wants(kind, ticket.queue_id, ticket.team_id)
            ]
            if not wanted:
                continue
            event_id = os.urandom(16).hex()  # 128 random bits; a UUID object costs twice
            body = event_body(event_id, kind, at, ticket, actor, details)
            for endpoint in wanted:
                made.append(
                    {
                        "event_id": event_id,
                        "endpoint": endpoint,
                        "kind": kind,
                        "ticket_id": ticket.id,
                        "created_at": written,
                        "payload": body,
                        "status": PENDING,
                        "attempts": 0,
                        "next_at": written,
                    }
                )
        return made

    def write(
        self,
        connection: Connection,
        events: Iterable[tuple[str, dict[str, Any]]],
        ticket: TicketFacts,
        at: datetime,
        actor: str,
    ) -> None:
        """Put the events in the outbox, in the caller's transaction (or savepoint). Callers
        ask first whether there are `endpoints`: without, they need not work out the events."""
        insert_rows(connection, _outbox, self.rows(events, ticket, at, actor))


def write_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows made ahead by `Outbox.rows` (ingest's batch), in one statement."""
    insert_rows(connection, _outbox, rows)
