"""The feedback event schema (what ingest accepts) and storing one event."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from cxdesk.workflow.basics.text import clean_text

MAX_COMMENT = 10_000

MAX_DRIVERS = 100

CleanStr = Annotated[str, AfterValidator(clean_text)]


def _not_blank(value: str) -> str:
    """An id must say something once cleaned: spaces or control characters alone do not."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _whole_number(value: Any) -> Any:
    """A score is a JSON integer. Not `true` (pydantic would take it as 1, and `false` as a
    detractor's 0), not the string "9" nor the number 10.0 (pydantic would take both as
    scores): a feed that sends them sends something other than a score, and is told so
    rather than guessed at. Text formats say which cells are numbers before this (see
    `csv_event`)."""
    if isinstance(value, str):
        raise ValueError("must be a whole number, not a string")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


SCORES = ("nps", "csat", "ces")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?")  # ASCII digits: `int` would read `９` too


def score_of_text(text: str) -> int | float | str:
    """A score written as text (a CSV cell, a web form's field) as the number it reads as,
    for the schema to judge as it judges JSON's: `9` → 9, `9.5` → 9.5 (refused there as no
    whole number); anything else stays text (refused there as a string)."""
    if len(text) <= 20 and _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


def _score(low: int, high: int) -> Any:
    """A whole number from `low` to `high` (the bounds first, so the JSON Schema has them)."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_whole_number)]


def _schema(text: Any) -> tuple[type[BaseModel], type[_Flattening]]:
    """The customer and event fields, their text of type `text`: cleaned (the schema), or
    taken as given, for a record that holds nothing to clean (see `validate_record`; cleaning
    is a call into Python for each text, half of a record's validation)."""

    def text_of(max_length: int, **constraints: Any) -> Any:
        return Annotated[text, StringConstraints(max_length=max_length, **constraints)]

    def id_of(max_length: int, **constraints: Any) -> Any:
        return Annotated[text_of(max_length, **constraints), AfterValidator(_not_blank)]

    class CustomerIn(BaseModel):
        model_config = ConfigDict(extra="forbid")

        id: id_of(128, strip_whitespace=True)
        name: text_of(200) | None = None
        phone: text_of(64) | None = None
        email: text_of(320) | None = None
        tier: text_of(32) | None = None

    class EventFields(_Flattening):
        event_id: id_of(128)
        kind: Literal["survey", "complaint", "review", "followup"]
        occurred_at: datetime = Field(
            description="ISO 8601; a time without offset is read in the configured timezone"
        )
        customer: CustomerIn
        channel: text_of(64) | None = None
        touchpoint: text_of(128) | None = None
        journey: text_of(128) | None = None
        nps: _score(0, 10) | None = None
        csat: _score(1, 5) | None = None
        ces: _score(1, 7) | None = None
        comment: text_of(MAX_COMMENT) | None = None
        drivers: list[text_of(128)] = Field(default_factory=list, max_length=MAX_DRIVERS)
        ticket_id: str | None = Field(default=None, description="the ticket a follow-up answers")

    return CustomerIn, EventFields


class _Flattening(BaseModel):
    """What an event model does with itself, whichever text its fields take."""

    model_config = ConfigDict(extra="forbid")

    if TYPE_CHECKING:  # fields of each schema's event model, declared here for the checker
        kind: str
        occurred_at: datetime

    def occurred_at_utc(self, timezone: str) -> datetime:
        """The instant, a naive time read in `timezone`. In UTC's own tzinfo, not the parser's:
        ingest hashes, converts and stores it several times over."""
        at = self.occurred_at
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo(timezone))
        return at.astimezone(UTC)

    def flat(self, timezone: str) -> ValidEvent:
        e: Any = self
        c = e.customer
        return ValidEvent(
            e.event_id,
            e.kind,
            self.occurred_at_utc(timezone),
            c.id,
            c.name,
            c.phone,
            c.email,
            c.tier,
            e.channel,
            e.touchpoint,
            e.journey,
            e.nps,
            e.csat,
            e.ces,
            e.comment,
            tuple(e.drivers),
            e.ticket_id,
        )


CustomerIn, _EventFields = _schema(CleanStr)
# The schema's fields, for text with nothing to clean, without its follow-up check:
# `validate_record` takes its word for the other kinds only.
_, UncleanedEventIn = _schema(str)


class FeedbackEventIn(_EventFields):  # type: ignore[misc]  # a base built at runtime
    """One piece of customer voice, as JSON Lines or CSV put it."""

    model_config = ConfigDict(extra="forbid", title="cxdesk feedback event")

    @model_validator(mode="after")
    def _followup_has_ticket_and_score(self) -> FeedbackEventIn:
        if self.kind == "followup":
            if not self.ticket_id:
                raise ValueError("ticket_id: required for a followup answer")
            if self.nps is None and self.csat is None:
                raise ValueError("a followup answer needs nps or csat")
        return self


class ValidEvent(NamedTuple):
    """A validated event, flat, its time zone settled: what ingest works with. A tuple, so a
    batch of them crosses from the validating process cheaply, as a pydantic model would not
    (see feed's `to_wire`)."""

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
