"""Validating a feedback record: the event it holds, or why it is refused, named by field."""

from __future__ import annotations

from pydantic import ValidationError

from cxdesk.workflow.events import FeedbackEventIn, UncleanedEventIn, ValidEvent
from cxdesk.workflow.readers import Record

Validated = ValidEvent | str  # the event, or why the record is refused


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
                message += f", got {str(shown)[:80] if shown != '' else repr('')}"
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def validate_record(record: Record, timezone: str) -> Validated:
    """The record as an event (naive times read in `timezone`), or why it is refused."""
    if record.error is not None:
        return record.error
    if record.fields is None and _nothing_to_clean(record.raw):
        try:
            fast = UncleanedEventIn.model_validate_json(record.raw)
        except ValidationError:
            pass  # the schema says why, below
        else:
            if fast.kind != "followup":
                return fast.flat(timezone)
    try:
        if record.fields is None:
            event = FeedbackEventIn.model_validate_json(record.raw)
        else:
            event = FeedbackEventIn.model_validate(record.fields)
    except ValidationError as exc:
        return describe_validation_error(exc)
    return event.flat(timezone)


def _nothing_to_clean(raw: str) -> bool:
    """Whether no text of this JSON can hold what `clean_text` removes or changes: every
    such character is unprintable, and in JSON's text it comes raw or as an escape."""
    return "\\" not in raw and raw.isprintable()
