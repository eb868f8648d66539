"""Writing a batch's quarantine: the records it refused are stored, and earlier quarantines
of the same source's lines are resolved when those lines were accepted or refused again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from cxdesk.models import QuarantinedRecord
from cxdesk.models.base import table_of
from cxdesk.workflow.intake.batch_reads import key_in


def write_quarantine(
    session: Session,
    source: str,
    refused: list[dict[str, Any]],
    accepted_lines: list[int],
    at: datetime,
) -> None:
    """Store the `refused` rows not already quarantined as they are, and resolve at `at` the
    unresolved quarantines of `source` whose lines are in `accepted_lines`."""
    unresolved = select(QuarantinedRecord.id).where(
        QuarantinedRecord.source == source,
        col(QuarantinedRecord.resolved).is_(False),
    )
    if not refused and session.exec(unresolved.limit(1)).first() is None:
        return  # the everyday case: nothing to store, nothing of this source to resolve
    connection = session.connection()
    lines = sorted({q["line"] for q in refused} | set(accepted_lines))
    already: dict[int, list[tuple[str, int]]] = {}
    for line, raw, number in session.exec(
        select(QuarantinedRecord.line, QuarantinedRecord.raw, QuarantinedRecord.id).where(
            QuarantinedRecord.source == source,
            key_in(connection, QuarantinedRecord.line, lines),
            col(QuarantinedRecord.resolved).is_(False),
        )
    ):
        assert number is not None  # a stored row's
        already.setdefault(line, []).append((raw, number))
    fresh = [q for q in refused if q["raw"] not in {raw for raw, _ in already.get(q["line"], [])}]
    if fresh:
        session.execute(insert(table_of(QuarantinedRecord)), fresh)
    fixed = [number for line in accepted_lines for _, number in already.get(line, [])]
    if fixed:
        session.execute(
            update(QuarantinedRecord)
            .where(key_in(connection, QuarantinedRecord.id, fixed))
            .values(resolved=True, retried_at=at)
        )
