"""Writing a batch's quarantine: the records it refused are stored (one entry a line of a
source), and earlier quarantines of the same source's lines are resolved when those lines
were accepted, or brought up to date when they were refused again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from cxdesk.db import KeyedQuery
from cxdesk.models import QuarantinedRecord
from cxdesk.models.base import table_of

_ENTRIES_OF_LINES = KeyedQuery(
    QuarantinedRecord.line,
    lambda keys_in: (
        select(QuarantinedRecord.line, QuarantinedRecord.id)
        .where(
            QuarantinedRecord.source == bindparam("source"),
            keys_in,
            col(QuarantinedRecord.resolved).is_(False),
        )
        .order_by(col(QuarantinedRecord.id))
    ),
)
_RESOLVE = KeyedQuery(
    QuarantinedRecord.id,
    lambda keys_in: (
        update(QuarantinedRecord).where(keys_in).values(resolved=True, retried_at=bindparam("at"))
    ),
)


def write_quarantine(
    session: Session,
    source: str,
    refused: list[dict[str, Any]],
    accepted_lines: list[int],
    at: datetime,
) -> None:
    """Store the `refused` rows, and resolve at `at` the unresolved quarantines of `source`
    whose lines are in `accepted_lines`. A line keeps one entry: refused again (a failed
    retry, the file ingested again, still wrong or wrong otherwise), its unresolved entry is
    brought up to date, with what was read and why it failed this time, not doubled."""
    if not refused and not accepted_lines:
        return  # records from no lines of a file (posted, replayed), none refused
    unresolved = select(QuarantinedRecord.id).where(
        QuarantinedRecord.source == source,
        col(QuarantinedRecord.resolved).is_(False),
    )
    if not refused and session.exec(unresolved.limit(1)).first() is None:
        return  # the everyday case: nothing to store, nothing of this source to resolve
    lines = {q["line"] for q in refused} | set(accepted_lines)
    already: dict[int, list[int]] = {}
    for line, number in _ENTRIES_OF_LINES.execute(session, lines, source=source):
        already.setdefault(line, []).append(number)
    fresh = [q for q in refused if q["line"] not in already]
    if fresh:
        session.execute(insert(table_of(QuarantinedRecord)), fresh)
    for q in refused:
        if q["line"] in already:  # its newest entry; older doubles, if any, stay as they were
            session.execute(
                update(QuarantinedRecord)
                .where(col(QuarantinedRecord.id) == already[q["line"]][-1])
                .values(
                    raw=q["raw"],
                    reason=q["reason"],
                    format=q["format"],
                    csv_header=q["csv_header"],
                    retried_at=at,
                )
            )
    fixed = [number for line in accepted_lines for number in already.get(line, [])]
    if fixed:
        _RESOLVE.execute(session, fixed, at=at)
        resolved = set(fixed)
        for held in list(session.identity_map.values()):  # the session's copies, read again
            if isinstance(held, QuarantinedRecord) and held.id in resolved:
                session.expire(held)
