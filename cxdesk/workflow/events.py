"""The feedback event schema (what ingest accepts) and storing one event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from cxdesk.workflow.text import clean_text

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

    def occurred_at_utc(self, timezone: str) -> datetime:
        """The instant, a naive time read in `timezone`. In UTC's own tzinfo, not the parser's:
        ingest hashes, converts and stores it several times over, and pickles it across."""
        at = self.occurred_at
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo(timezone))
        return at.astimezone(UTC)

    def flat(self, timezone: str) -> ValidEvent:
        c = self.customer
        return ValidEvent(
            self.event_id,
            self.kind,
            self.occurred_at_utc(timezone),
            c.id,
            c.name,
            c.phone,
            c.email,
            c.tier,
            self.channel,
            self.touchpoint,
            self.journey,
            self.nps,
            self.csat,
            self.ces,
            self.comment,
            tuple(self.drivers),
            self.ticket_id,
        )


class ValidEvent(NamedTuple):
    """A validated event, flat, its time zone settled: what ingest works with. A tuple, so a
    batch of them crosses from the validating process in a few microseconds each (a pydantic
    model takes ten times as long to pickle and unpickle)."""

    event_id: str
    kind: str
    occurred_at: datetime  # in UTC
    customer_id: str
    customer_name: str | None
    customer_phone: str | None
    customer_email: str | None
    customer_tier: str | None
    channel: str | None
    touchpoint: str | None
    journey: str | None
    nps: int | None
    csat: int | None
    ces: int | None
    comment: str | None
    drivers: tuple[str, ...]
    ticket_id: str | None


Fired = tuple[int, ...]  # the positions, in the config, of the alert rules an event fires
