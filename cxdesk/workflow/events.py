"""The feedback event schema (what ingest accepts) and storing one event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from sqlmodel import Session

from cxdesk.models import Customer, FeedbackEvent
from cxdesk.workflow.text import clean_optional, clean_text

MAX_COMMENT = 10_000

CleanStr = Annotated[str, AfterValidator(clean_text)]
ShortStr = Annotated[CleanStr, StringConstraints(max_length=200)]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[CleanStr, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
    name: ShortStr | None = None
    phone: Annotated[CleanStr, StringConstraints(max_length=64)] | None = None
    email: Annotated[CleanStr, StringConstraints(max_length=320)] | None = None
    tier: Annotated[CleanStr, StringConstraints(max_length=32)] | None = None


class FeedbackEventIn(BaseModel):
    """One piece of customer voice, as JSON Lines or CSV put it."""

    model_config = ConfigDict(extra="forbid", title="cxdesk feedback event")

    event_id: Annotated[CleanStr, StringConstraints(min_length=1, max_length=128)]
    kind: Literal["survey", "complaint", "review", "followup"]
    occurred_at: datetime = Field(
        description="ISO 8601; a time without offset is read in the configured timezone"
    )
    customer: CustomerIn
    channel: Annotated[CleanStr, StringConstraints(max_length=64)] | None = None
    touchpoint: Annotated[CleanStr, StringConstraints(max_length=128)] | None = None
    journey: Annotated[CleanStr, StringConstraints(max_length=128)] | None = None
    nps: int | None = Field(default=None, ge=0, le=10)
    csat: int | None = Field(default=None, ge=1, le=5)
    ces: int | None = Field(default=None, ge=1, le=7)
    comment: Annotated[CleanStr, StringConstraints(max_length=MAX_COMMENT)] | None = None
    drivers: list[Annotated[CleanStr, StringConstraints(max_length=128)]] = Field(
        default_factory=list
    )
    ticket_id: str | None = Field(default=None, description="the ticket a follow-up answers")

    @model_validator(mode="after")
    def _followup_has_ticket_and_score(self) -> FeedbackEventIn:
        if self.kind == "followup":
            if not self.ticket_id:
                raise ValueError("ticket_id: required for a followup answer")
            if self.nps is None and self.csat is None:
                raise ValueError("a followup answer needs nps or csat")
        return self

    def occurred_at_in(self, timezone: str) -> datetime:
        if self.occurred_at.tzinfo is None:
            return self.occurred_at.replace(tzinfo=ZoneInfo(timezone))
        return self.occurred_at


def upsert_customer(session: Session, data: CustomerIn, at: datetime) -> Customer:
    """Create the customer or update the fields this event carries; others stay."""
    customer = session.get(Customer, data.id)
    if customer is None:
        customer = Customer(id=data.id, created_at=at, updated_at=at)
        session.add(customer)
    for field in ("name", "phone", "email", "tier"):
        value = getattr(data, field)
        if value is not None and value != getattr(customer, field):
            setattr(customer, field, clean_optional(value))
            customer.updated_at = at
    return customer


def store_event(
    session: Session,
    event: FeedbackEventIn,
    raw: str,
    *,
    timezone: str,
    received_at: datetime,
    ticket_id: int | None = None,
) -> FeedbackEvent:
    upsert_customer(session, event.customer, received_at)
    row = FeedbackEvent(
        event_id=event.event_id,
        kind=event.kind,
        occurred_at=event.occurred_at_in(timezone),
        received_at=received_at,
        customer_id=event.customer.id,
        channel=event.channel,
        touchpoint=event.touchpoint,
        journey=event.journey,
        nps=event.nps,
        csat=event.csat,
        ces=event.ces,
        comment=event.comment,
        drivers=list(event.drivers),
        ticket_id=ticket_id,
        raw=raw,
    )
    session.add(row)
    return row
