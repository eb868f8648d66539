"""The append-only audit log: each row's digest covers the row and the digest before it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from cxdesk.models import AuditEntry

_PG_AUDIT_LOCK = 0x63786473  # any constant; serialises appends to the chain on PostgreSQL


def entry_digest(previous: str, entry: AuditEntry) -> str:
    payload = json.dumps(
        [previous, entry.at.isoformat(), entry.actor, entry.action, entry.ticket_id, entry.detail],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def append_audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    ticket_id: int | None,
    detail: dict[str, Any],
) -> AuditEntry:
    """Add one audit row chained to the last; call inside the command's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK})
    previous = session.exec(
        select(AuditEntry.digest).order_by(col(AuditEntry.id).desc()).limit(1)
    ).first()
    entry = AuditEntry(at=at, actor=actor, action=action, ticket_id=ticket_id, detail=detail)
    entry.digest = entry_digest(previous or "", entry)
    session.add(entry)
    return entry
