"""The quarantine: input records ingest could not accept, kept until they are fixed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from cxdesk.errors import NotFound, WorkflowError
from cxdesk.models import QuarantinedRecord
from cxdesk.workflow.basics.text import original
from cxdesk.workflow.intake.feed import FeedSource
from cxdesk.workflow.intake.readers import Record, read_csv


@dataclass(frozen=True)
class QuarantineItem:
    id: int
    source: str
    line: int
    format: str
    reason: str
    raw: str
    received_at: datetime
    retried_at: datetime | None
    resolved: bool


def _item(row: QuarantinedRecord) -> QuarantineItem:
    assert row.id is not None
    return QuarantineItem(
        row.id,
        row.source,
        row.line,
        row.format,
        row.reason,
        row.raw,
        row.received_at,
        row.retried_at,
        row.resolved,
    )


def list_quarantine(
    session: Session,
    *,
    include_resolved: bool = False,
    source: str | None = None,
    limit: int = 1000,
) -> list[QuarantineItem]:
    statement = select(QuarantinedRecord).order_by(col(QuarantinedRecord.id))
    if not include_resolved:
        statement = statement.where(col(QuarantinedRecord.resolved).is_(False))
    if source:
        statement = statement.where(QuarantinedRecord.source == source)
    return [_item(row) for row in session.exec(statement.limit(limit))]


def get_quarantined(session: Session, number: int) -> QuarantineItem:
    row = session.get(QuarantinedRecord, number)
    if row is None:
        raise NotFound(f"no quarantined record {number}")
    return _item(row)


def stored_record(item: QuarantinedRecord | QuarantineItem, csv_header: str | None) -> Record:
    """The record as it was read, from the text kept in the quarantine (NUL escaped there:
    see `storable`)."""
    raw = original(item.raw)
    if item.format == "csv":
        if csv_header is None:
            raise WorkflowError(f"quarantined record {item.id} has no CSV header to read it")
        header = original(csv_header)
        parsed = next(read_csv(io.StringIO(f"{header}\n{raw}\n")), None)
        if parsed is None:
            return Record(item.line, raw, format="csv", csv_header=header, error="empty CSV record")
        return Record(item.line, parsed.raw, parsed.fields, parsed.error, "csv", header)
    return Record(item.line, raw)


def source_records(source: str, fmt: str, lines: set[int]) -> Iterator[Record]:
    """The records at `lines` of the (fixed) source file, read afresh."""
    path = Path(source)
    if source == "stdin" or not path.is_file():
        raise WorkflowError(
            f"cannot re-read {source}: not a file here; retry without "
            "--from-source, or ingest the fixed file again"
        )
    for record in FeedSource(source, fmt).records():
        if record is not None and record.line in lines:
            yield record


def records_to_retry(
    session: Session, numbers: list[int] | None, *, from_source: bool
) -> dict[str, list[Record]]:
    """Unresolved records (all, or those numbered), grouped by source, ready to ingest."""
    statement = select(QuarantinedRecord).where(col(QuarantinedRecord.resolved).is_(False))
    if numbers is not None:
        statement = statement.where(col(QuarantinedRecord.id).in_(numbers))
    rows = list(session.exec(statement.order_by(col(QuarantinedRecord.id))))
    if numbers is not None:
        missing = sorted(set(numbers) - {row.id for row in rows})
        if missing:
            raise NotFound(f"no unresolved quarantined record {', '.join(map(str, missing))}")
    by_source: dict[str, list[Record]] = {}
    for row in rows:
        if from_source:
            continue
        by_source.setdefault(row.source, []).append(stored_record(row, row.csv_header))
    if from_source:
        wanted: dict[tuple[str, str], set[int]] = {}
        for row in rows:
            wanted.setdefault((row.source, row.format), set()).add(row.line)
        for (source, fmt), lines in wanted.items():
            by_source.setdefault(source, []).extend(source_records(source, fmt, lines))
    return by_source
