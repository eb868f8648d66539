"""Customer voice as it arrives: customers, feedback events, quarantined input."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import JSON, Column, Field, Index, String, Text

from cxdesk.models.base import TableModel, UTCDateTime, empty_dict, empty_list


class Customer(TableModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True, max_length=128)
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    tier: str | None = Field(default=None, max_length=32)
    attributes: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class FeedbackEvent(TableModel, table=True):
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


class FeedbackRollup(TableModel, table=True):
    """The voice of one hour (UTC) in one scope, counted as the events arrive, so that the
    metric alerts' windows add up hours instead of scanning a million events.

    Hours, not days: the alerts' weeks end at any instant, and what falls between a window's
    edge and the nearest whole bucket is read from the events, at most an hour's worth at each
    edge; and an hour in UTC is whole in every zone on the hour, so no configured timezone is
    baked into the rows. `dimension` is `all` (`value` ''), `touchpoint` or `queue` (of the
    event's ticket); a row of zeros says no more than no row.
    """

    __tablename__ = "feedback_rollups"
    # Kept in key order on SQLite: a window reads a range of hours, counters and all.
    __table_args__ = {"sqlite_with_rowid": False}

    dimension: str = Field(sa_type=String(16), primary_key=True)
    hour: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    value: str = Field(primary_key=True, max_length=128)
    complaints: int = 0
    nps_answers: int = 0
    promoters: int = 0  # NPS 9–10
    detractors: int = 0  # NPS 0–6
    csat_answers: int = 0
    csat_satisfied: int = 0  # CSAT 4–5
