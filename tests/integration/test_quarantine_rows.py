"""A batch's quarantine written in the session it is handed: entries the session holds
but has not flushed are found (a line keeps one entry), and copies it holds of entries
resolved are read again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from cxdesk.db import Database
from cxdesk.models import QuarantinedRecord
from cxdesk.workflow.intake.quarantine_rows import write_quarantine

AT = datetime(2026, 3, 1, tzinfo=UTC)
LATER = datetime(2026, 3, 2, tzinfo=UTC)


def _entry(line: int) -> QuarantinedRecord:
    return QuarantinedRecord(source="feed.jsonl", line=line, raw="{", reason="bad", received_at=AT)


def _refused(line: int) -> dict[str, object]:
    return {
        "source": "feed.jsonl",
        "line": line,
        "format": "jsonl",
        "csv_header": None,
        "raw": "{{",
        "reason": "still bad",
        "received_at": LATER,
        "retried_at": None,
        "resolved": False,
    }


def test_resolved_entry_loaded_in_the_session_is_seen_resolved(db: Database) -> None:
    with db.write() as session:
        session.add(_entry(7))
    with db.write() as session:
        row = session.exec(select(QuarantinedRecord)).one()
        assert row.resolved is False
        write_quarantine(session, "feed.jsonl", [], [7], LATER)
        # the line was accepted: its entry is resolved, and the session's copy says so
        assert row.resolved is True
        assert row.retried_at == LATER


def test_refused_again_keeps_one_entry_for_an_unflushed_one(db: Database) -> None:
    with db.write() as session:
        session.add(_entry(7))  # pending, not yet flushed
        write_quarantine(session, "feed.jsonl", [_refused(7)], [], LATER)
    with db.session() as session:
        rows = session.exec(select(QuarantinedRecord).where(col(QuarantinedRecord.line) == 7)).all()
    assert len(rows) == 1  # "a line keeps one entry"
