"""Validating a feedback record: the event it holds, or why it is refused, named by field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from cxdesk.config import IngestConfig, format_duration
from cxdesk.workflow.intake.events import FeedbackEventIn, UncleanedEventIn, ValidEvent
from cxdesk.workflow.intake.readers import Record

Validated = ValidEvent | str  # the event, or why the record is refused

_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


class Window:
    """The instants an event may be dated: from `past` before the ingest's clock to `future`
    after it (see `IngestConfig`). The clock is read again before an instant is refused, so
    a window taken long ago (a live feed runs for days) refuses only what is outside it now;
    most events, within it, cost two comparisons."""

    def __init__(self, limits: IngestConfig, clock: Callable[[], datetime]) -> None:
        self.limits = limits
        self.clock = clock
        self._take()

    def _take(self) -> None:
        now = self.clock()
        self.earliest = _shifted(now, -self.limits.past, _EARLIEST)
        self.latest = _shifted(now, self.limits.future, _LATEST)

    def refusal(self, at: datetime) -> str | None:
        """Why an instant is outside, or None."""
        if self.earliest <= at <= self.latest:
            return None
        self._take()
        if at < self.earliest:
            return f"is more than {format_duration(self.limits.past)} in the past"
        if at > self.latest:
            return f"is more than {format_duration(self.limits.future)} in the future"
        return None


def _shifted(now: datetime, delta: timedelta, bound: datetime) -> datetime:
    try:
        return now + delta
    except OverflowError:  # a clock at the ends of time: the window ends there
        return bound


@dataclass(frozen=True)
class Terms:
    """What a record is checked against besides the schema: the zone a naive time is read
    in, and the window around the ingest's clock that its instant must fall in."""

    timezone: str
    limits: IngestConfig
    clock: Callable[[], datetime]

    def window(self) -> Window:
        return Window(self.limits, self.clock)


def describe_validation_error(exc: ValidationError) -> str:
    """`nps: must be <= 10, got 11`; every problem of the record, in order."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        kind, ctx, shown = error["type"], error.get("ctx", {}), error.get("input")
        if kind == "json_invalid":
            return f"invalid JSON: {ctx.get('error', error['msg'])}"
        if kind in ("string_too_long", "too_long"):
            size = len(shown) if isinstance(shown, str | list) else ctx.get("actual_length")
            message = f"longer than the limit of {ctx.get('max_length')}, got {size}"
        elif kind in ("missing", "extra_forbidden"):
            message = "required" if kind == "missing" else "unknown field"
        else:
            message = {
                "less_than_equal": f"must be <= {ctx.get('le')}",
                "greater_than_equal": f"must be >= {ctx.get('ge')}",
                "string_too_short": "must not be empty",
            }.get(kind, error["msg"].removeprefix("Value error, "))
            if not isinstance(shown, dict | list):
                message += f", got {_shown(shown)}"
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _shown(value: Any) -> str:
    """A refused value as a reason quotes it: text that is blank or holds what cannot be
    printed (NUL, escapes) as a Python literal."""
    text = str(value)[:80]
    if isinstance(value, str) and (not text.strip() or not text.isprintable()):
        return repr(text)
    return text


def validate_record(record: Record, timezone: str, window: Window | None = None) -> Validated:
    """The record as an event (naive times read in `timezone`, its instant within `window`
    where given), or why it is refused."""
    if record.error is not None:
        return record.error
    if record.fields is None and _nothing_to_clean(record.raw):
        try:
            fast = UncleanedEventIn.model_validate_json(record.raw)
        except ValidationError:
            pass  # the schema says why, below
        else:
            if fast.kind != "followup":
                return _settled(fast, timezone, window)
    try:
        if record.fields is None:
            event = FeedbackEventIn.model_validate_json(record.raw)
        else:
            event = FeedbackEventIn.model_validate(record.fields)
    except ValidationError as exc:
        return describe_validation_error(exc)
    return _settled(event, timezone, window)


def _settled(event: Any, timezone: str, window: Window | None) -> Validated:
    """The event flat, its instant in UTC, or why its `occurred_at` cannot be taken: a time
    that UTC cannot hold (year 1 east of Greenwich), or one outside the window."""
    try:
        flat: ValidEvent = event.flat(timezone)
    except OverflowError:  # year 1 or 9999: beyond any window
        given = event.occurred_at.isoformat()
        if window is None:
            return f"occurred_at: {given} is out of range"
        flat_at = _EARLIEST if event.occurred_at.year == 1 else _LATEST
        return f"occurred_at: {given} {window.refusal(flat_at) or 'is out of range'}"
    if window is not None and (why := window.refusal(flat.occurred_at)) is not None:
        return f"occurred_at: {event.occurred_at.isoformat()} {why}"
    return flat


def _nothing_to_clean(raw: str) -> bool:
    """Whether no text of this JSON can hold what `clean_text` removes or changes: every
    such character is unprintable, and in JSON's text it comes raw or as an escape."""
    return "\\" not in raw and raw.isprintable()
