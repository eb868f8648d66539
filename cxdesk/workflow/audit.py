"""The append-only audit log: each row's digest covers the row and the digest before it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from cxdesk.db import insert_rows
from cxdesk.models import AuditEntry

_PG_AUDIT_LOCK = 0x63786473  # any constant; serialises appends to the chain on PostgreSQL


def _digest_encoder() -> Callable[[Any], str]:
    """What json.dumps(sort_keys=True, ensure_ascii=False, default=str) writes, byte for byte
    (the chain's format). JSONEncoder.encode builds its C encoder anew on every call, a third
    of a digest's time; here it is built once. Without the C encoder, the same in Python."""
    if c_make_encoder is None:
        return json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode
    # markers None: no check for circular values, which a row's detail never holds
    encode = c_make_encoder(None, str, encode_basestring, None, ": ", ", ", True, False, True)
    return lambda value: "".join(encode(value, 0))


_encode_for_digest = _digest_encoder()
_audit_log = AuditEntry.__table__
# Read in Core, not through the ORM: the ORM's query machinery made this one read a sixth of
# the time it takes to open a ticket.
_CHAIN_END = sa.select(_audit_log.c.digest).order_by(_audit_log.c.id.desc()).limit(1)


def entry_digest(
    previous: str,
    at: datetime,
    actor: str,
    action: str,
    ticket_id: int | None,
    detail: dict[str, Any],
) -> str:
    utc = at if at.tzinfo is UTC else at.astimezone(UTC)
    payload = _encode_for_digest([previous, utc.isoformat(), actor, action, ticket_id, detail])
    return hashlib.sha256(payload.encode()).hexdigest()


class AuditChain:
    """Appends rows to the chain within one transaction, holding its end while it does."""

    def __init__(self, session: Session) -> None:
        self.session = session
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK}
            )
        self.last = connection.execute(_CHAIN_END).scalar() or ""
        self.pending: list[dict[str, Any]] = []

    def add(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        ticket_id: int | None,
        detail: dict[str, Any],
    ) -> None:
        self.last = entry_digest(self.last, at, actor, action, ticket_id, detail)
        self.pending.append(
            {
                "at": at,
                "actor": actor,
                "action": action,
                "ticket_id": ticket_id,
                "detail": detail,
                "digest": self.last,
            }
        )

    def write(self) -> None:
        if self.pending:
            insert_rows(self.session.connection(), AuditEntry.__table__, self.pending)
            self.pending = []


def append_audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    ticket_id: int | None,
    detail: dict[str, Any],
) -> None:
    """Add one audit row chained to the last; call inside the command's transaction."""
    session.flush()  # rows of this transaction come before the chain's end is read
    chain = AuditChain(session)
    chain.add(at=at, actor=actor, action=action, ticket_id=ticket_id, detail=detail)
    chain.write()


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    first_bad: int | None  # the id of the first row whose digest does not match


def verify_chain(session: Session) -> ChainCheck:
    """Recompute every digest in order; report the first row that was altered or removed."""
    previous, count = "", 0
    statement = select(AuditEntry).order_by(col(AuditEntry.id)).execution_options(yield_per=5000)
    for entry in session.exec(statement):
        count += 1
        expected = entry_digest(
            previous, entry.at, entry.actor, entry.action, entry.ticket_id, entry.detail
        )
        if entry.digest != expected:
            return ChainCheck(count, entry.id)
        previous = entry.digest
    return ChainCheck(count, None)
