"""The append-only audit log and the input that ingest could not accept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import JSON, Column, Field, Index, Text

from cxdesk.models.base import TableModel, UTCDateTime, empty_dict


class AuditEntry(TableModel, table=True):
    """One row per command; `digest` chains each row to the one before it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_ticket", "ticket_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id")
    detail: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSON)
    digest: str = Field(default="", max_length=64)


class QuarantinedRecord(TableModel, table=True):
    """An input record that failed validation, kept verbatim so nothing is lost."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_source_line", "source", "line"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=500)
    line: int
    format: str = Field(default="jsonl", max_length=8)  # jsonl | csv: how to read `raw` again
    csv_header: str | None = Field(default=None, sa_column=Column(Text))
    raw: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_type=UTCDateTime)
    retried_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved: bool = False
