"""The webhook outbox as `cxdesk webhooks list` shows it: what waits or failed, how often it
was tried and why it failed last (for admins: it names every team's tickets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from cxdesk.models import WebhookDelivery
from cxdesk.workflow.basics.refs import ticket_ref


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    endpoint: str
    event: str
    kind: str
    ticket: str
    status: str
    attempts: int
    next_at: datetime | None  # when it is tried next (pending only)
    last_status: int | None
    last_error: str | None
    created_at: datetime


def list_deliveries(
    session: Session, statuses: Sequence[str], limit: int, endpoint: str | None = None
) -> list[DeliveryRow]:
    """The deliveries in these states, oldest first, at most `limit`."""
    d = WebhookDelivery
    query = select(d).where(col(d.status).in_(list(statuses)))
    if endpoint is not None:
        query = query.where(col(d.endpoint) == endpoint)
    return [
        DeliveryRow(
            id=row.id or 0,
            endpoint=row.endpoint,
            event=row.event_id,
            kind=row.kind,
            ticket=ticket_ref(row.ticket_id),
            status=row.status,
            attempts=row.attempts,
            next_at=row.next_at if row.status == "pending" else None,
            last_status=row.last_status,
            last_error=row.last_error,
            created_at=row.created_at,
        )
        for row in session.exec(query.order_by(col(d.id)).limit(limit))
    ]
