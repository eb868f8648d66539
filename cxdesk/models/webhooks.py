"""The webhook outbox: one row per event and endpoint, written in the transaction of the
change it tells of, and worked off by the deliverer (`workflow/ops/webhooks.py`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Column, Field, Index, String, Text, col

from cxdesk.models.base import TableModel, UTCDateTime, partial_index

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookDelivery(TableModel, table=True):
    """An event bound for one endpoint, with its delivery's state. `payload` is the body
    exactly as sent (JSON), so every attempt signs and sends the same bytes."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint", name="uq_webhook_outbox_event_endpoint"),
        Index("ix_webhook_outbox_finished_at", "finished_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=40)
    endpoint: str = Field(max_length=64)
    kind: str = Field(sa_type=String(32))
    ticket_id: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=PENDING, sa_type=String(16))
    attempts: int = 0
    next_at: datetime = Field(sa_type=UTCDateTime)  # not tried before
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: str | None = Field(default=None, max_length=32)
    last_status: int | None = None  # the HTTP status of the last attempt, if one came back
    last_error: str | None = Field(default=None, max_length=500)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# Only what is still to deliver is indexed for the deliverer: the rows due, and each
# endpoint's rows of one ticket in order (a ticket's events go out in the order they happened).
IS_PENDING = col(WebhookDelivery.status) == PENDING
partial_index(
    "ix_webhook_outbox_due",
    col(WebhookDelivery.next_at),
    where=IS_PENDING,
)
partial_index(
    "ix_webhook_outbox_ticket_order",
    col(WebhookDelivery.endpoint),
    col(WebhookDelivery.ticket_id),
    col(WebhookDelivery.id),
    where=IS_PENDING,
)
