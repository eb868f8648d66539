"""Events handed over in a request (`cxdesk serve`): its records, read from one JSON value or
from JSON Lines text, go through the same `Ingestor` as a file's, and each record's outcome
is told back by its place in the request.

A request is its own quarantine source (`source`), so that record 3 of one request accepted
never resolves record 3 of another refused; what a record's `line` is there: the line of
JSON Lines text, or the element's place in an array counted from 1.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlmodel import col, select

from cxdesk.db import Database, KeyedQuery
from cxdesk.models import FeedbackEvent
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.intake.feed import Checked
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.outcomes import Outcome, Taken
from cxdesk.workflow.intake.readers import MAX_RECORD_CHARS, Record, over_limit, read_jsonl

ACCEPTED, DUPLICATE, QUARANTINED = "accepted", "duplicate", "quarantined"
_STATUS = {Outcome.DUPLICATE: DUPLICATE, Outcome.QUARANTINED: QUARANTINED}
_ACTION = {Outcome.CREATED: "opened", Outcome.UPDATED: "updated"}
_SHOWN_ID = 128  # of an event id read from a refused record, the characters told back
_TICKETS_OF_EVENTS = KeyedQuery(
    FeedbackEvent.event_id,
    lambda keys_in: select(FeedbackEvent.event_id, FeedbackEvent.ticket_id).where(
        keys_in, col(FeedbackEvent.ticket_id).is_not(None)
    ),
)


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one record of a request."""

    index: int  # its place among the request's records, from 0
    line: int | None  # the line of JSON Lines text it was on; None in a JSON value
    event_id: str | None  # as given, where it could be read (a refused record's too)
    status: str  # ACCEPTED, DUPLICATE or QUARANTINED
    reason: str | None = None  # why it was quarantined
    ticket: str | None = None  # the case it opened or updated (a duplicate: the first's)
    ticket_action: str | None = None  # "opened" or "updated"

    def as_json(self) -> dict[str, Any]:
        data = {
            "index": self.index,
            "event_id": self.event_id,
            "status": self.status,
            "ticket": self.ticket,
        }
        if self.line is not None:
            data["line"] = self.line
        if self.ticket_action is not None:
            data["ticket_action"] = self.ticket_action
        if self.reason is not None:
            data["reason"] = self.reason
        return data


def jsonl_records(text: str) -> Iterator[Record]:
    """JSON Lines text's records, read as `cxdesk ingest` reads a file (blank lines skipped,
    a line longer than a record may be refused, undecodable bytes refused by line)."""
    return read_jsonl(io.StringIO(text, newline=""))


def json_records(value: Any) -> list[Record]:
    """One JSON value's records: an object is one, an array's elements are each one (what is
    not an object among them is refused as any record would be)."""
    elements = value if isinstance(value, list) else [value]
    records = []
    for number, element in enumerate(elements, start=1):
        raw = orjson.dumps(element).decode()
        too_long = len(raw) > MAX_RECORD_CHARS
        records.append(over_limit(number, raw) if too_long else Record(number, raw))
    return records


def ingest_request(
    intake: Ingestor,
    batches: Iterable[list[Checked]],
    *,
    source: str,
    person: str,
    in_lines: bool,
) -> list[RecordOutcome]:
    """Ingest a request's records, checked (`Ingestor.checked`), as `person` handed them
    over, in a run of `intake`'s (the server's, shared by its requests); each one's outcome,
    in order (`in_lines`: they were JSON Lines, whose line numbers are told back)."""
    taken = intake.for_source(source, person).ingest_batches(batches)
    duplicates = [
        t.event.event_id
        for t in taken
        if t.result.outcome is Outcome.DUPLICATE and not isinstance(t.event, str)
    ]
    first = _tickets_of(intake.db, duplicates) if duplicates else {}
    return [_outcome(n, t, first, in_lines) for n, t in enumerate(taken)]


def _outcome(index: int, taken: Taken, first: dict[str, int], in_lines: bool) -> RecordOutcome:
    result, event = taken.result, taken.event
    event_id = _event_id_of(taken.raw) if isinstance(event, str) else event.event_id
    number = result.ticket_id
    if result.outcome is Outcome.DUPLICATE and event_id is not None:
        number = first.get(event_id)
    return RecordOutcome(
        index=index,
        line=taken.line if in_lines else None,
        event_id=event_id,
        status=_STATUS.get(result.outcome, ACCEPTED),
        reason=result.reason,
        ticket=None if number is None else ticket_ref(number),
        ticket_action=_ACTION.get(result.outcome),
    )


def _event_id_of(raw: str) -> str | None:
    """The event id a refused record gives, if it is an object with a text one."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    given = value.get("event_id") if isinstance(value, dict) else None
    return given[:_SHOWN_ID] if isinstance(given, str) else None


def _tickets_of(db: Database, event_ids: list[str]) -> dict[str, int]:
    """The tickets the stored events of these ids went to, where they went to one."""
    with db.session() as session:
        rows = _TICKETS_OF_EVENTS.rows(session.connection(), event_ids)
        return {event_id: ticket for event_id, ticket in rows}
