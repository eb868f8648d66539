"""Customer voice as it arrives: customers, feedback events, quarantined input."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import JSON, Column, Field, Index, SQLModel, String, Text

from cxdesk.models.base import UTCDateTime, empty_dict, empty_list


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True, max_length=128)
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    tier: str | None = Field(default=None, max_length=32)
    attributes: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class FeedbackEvent(SQLModel, table=True):
    """One survey answer, complaint, review or follow-up answer, kept verbatim in `raw`."""

    __tablename__ = "feedback_events"
    __table_args__ = (
        Index("ix_feedback_customer_time", "customer_id", "occurred_at"),
        Index("ix_feedback_time", "occurred_at"),
    )

    event_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(sa_type=String(16))
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    customer_id: str = Field(foreign_key="customers.id", max_length=128)
    channel: str | None = Field(default=None, max_length=64)
    touchpoint: str | None = Field(default=None, max_length=128)
    journey: str | None = Field(default=None, max_length=128)
    nps: int | None = None
    csat: int | None = None
    ces: int | None = None
    comment: str | None = Field(default=None, sa_column=Column(Text))
    drivers: list[str] = Field(default_factory=empty_list, sa_type=JSON)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", index=True)
    raw: str = Field(sa_column=Column(Text, nullable=False))
