"""The hourly rollups counted again from the events: for a database whose events were
written past ingest (by hand, or restored from elsewhere), so that the metric alerts read
what the events say. Taken in turn with ingest's batches, which add to the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from cxdesk.db import Database, serialise
from cxdesk.models import FeedbackRollup
from cxdesk.models.base import table_of
from cxdesk.workflow.intake.batch import INGEST_LOCK
from cxdesk.workflow.loop.rollups import COUNTERS, rebuild


@dataclass(frozen=True)
class Rebuilt:
    rows: int  # rows that say something, once rebuilt
    differed: int  # rows that were missing, wrong, or left over before


def rebuild_rollups(db: Database) -> Rebuilt:
    """Replace the rollups with the events' counts, saying how far off they were."""
    with db.write() as session:
        connection = session.connection()
        serialise(connection, INGEST_LOCK)
        kept = _rows(connection)
        rebuild(connection)
        rebuilt = _rows(connection)
    return Rebuilt(len(rebuilt), len(kept ^ rebuilt))


def _rows(connection: Connection) -> set[tuple[Any, ...]]:
    rows = connection.execute(select(table_of(FeedbackRollup))).all()
    return {tuple(row) for row in rows if any(getattr(row, name) for name in COUNTERS)}
