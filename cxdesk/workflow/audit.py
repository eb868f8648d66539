"""The append-only audit log: each row's digest covers the row and the digest before it.

Digests are HMAC-SHA256 under a key the database's owner holds outside the database (see
`cxdesk.db.AuditKeyFile`), from the row that marks the keying (`KEY_ACTION`) on; rows written
before a database had a key keep their plain SHA-256 digests. Each row also records the
digests of the timeline entries its command wrote (`detail["timeline"]`) and the ticket's
state after it (`detail["state"]`), so that a verifier can check what the rows describe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from cxdesk.db import Database, audit_key_file, insert_rows
from cxdesk.errors import DatabaseError
from cxdesk.models import AuditEntry, TimelineEntry

_PG_AUDIT_LOCK = 0x63786473  # any constant; serialises appends to the chain on PostgreSQL
KEY_ACTION = "audit-key"  # the row from which the chain is keyed
KEY_ACTOR = "cxdesk"
TIMELINE_DIGEST_BYTES = 16  # HMAC-SHA256 cut to 128 bits: a command's entries in its row
STATE_FIELDS = ("stage", "assignee", "priority", "level")  # a ticket's state in detail["state"]


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


def _utc_text(at: datetime) -> str:
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat()


def entry_digest(
    previous: str,
    at: datetime,
    actor: str,
    action: str,
    ticket_id: int | None,
    detail: dict[str, Any],
    key: bytes | None = None,
) -> str:
    """HMAC-SHA256 under `key` of the row and the digest before it; plain SHA-256 without
    a key, as rows were digested before the chain was keyed."""
    payload = _encode_for_digest([previous, _utc_text(at), actor, action, ticket_id, detail])
    if key is None:
        return hashlib.sha256(payload.encode()).hexdigest()
    return hmac.digest(key, payload.encode(), "sha256").hex()


def timeline_digest(
    key: bytes,
    ticket_id: int,
    at: datetime,
    actor: str,
    kind: str,
    body: str,
    event_id: str | None,
    data: dict[str, Any],
) -> bytes:
    """A timeline entry's keyed digest, as its command's audit row records it (in hex)."""
    payload = _encode_for_digest([ticket_id, _utc_text(at), actor, kind, body, event_id, data])
    return hmac.digest(key, payload.encode(), "sha256")[:TIMELINE_DIGEST_BYTES]


def timeline_row_digest(key: bytes, row: dict[str, Any]) -> str:
    """`timeline_digest` of a timeline row given as a dict of its columns, in hex."""
    return timeline_digest(
        key,
        row["ticket_id"],
        row["at"],
        row["actor"],
        row["kind"],
        row["body"],
        row["event_id"],
        row["data"],
    ).hex()


def chain_key(session: Session) -> bytes:
    """The audit key of the session's database: a clear error when it cannot be had, so that
    nothing is ever appended unkeyed."""
    key_file = audit_key_file(session.get_bind())
    if key_file is None:
        raise DatabaseError("no audit key is known for this database (not opened by cxdesk)")
    return key_file.key()


def ticket_state(stage: str, assignee: str | None, priority: str, level: int) -> dict[str, Any]:
    """A ticket's state after a command, for `detail["state"]` (replayed by `verify --deep`)."""
    return {"stage": str(stage), "assignee": assignee, "priority": str(priority), "level": level}


class AuditChain:
    """Appends rows to the chain within one transaction, holding its end while it does."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.key = chain_key(session)
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
        self.last = entry_digest(self.last, at, actor, action, ticket_id, detail, self.key)
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


def key_the_chain(db: Database) -> bool:
    """Give a database without an audit key one, and mark in its chain the row from which it
    is keyed (recording the last timeline entry written before: later ones are covered).
    A chain already keyed whose key file is missing is an error: a new key would hide it."""
    key_file = db.audit_key
    if key_file is None or key_file.exists():
        return False
    created = False
    try:
        with db.write() as session:
            connection = session.connection()
            marked = sa.select(_audit_log.c.id).where(_audit_log.c.action == KEY_ACTION)
            if connection.execute(marked.limit(1)).first() is not None:
                key_file.key()  # raises, naming the file: a keyed chain without its key
            timeline = TimelineEntry.__table__.c.id
            before = connection.execute(sa.select(sa.func.max(timeline))).scalar() or 0
            try:
                key_file.create()
            except FileExistsError:  # another process keyed it a moment ago
                return False
            created = True
            append_audit(
                session,
                at=datetime.now(UTC),
                actor=KEY_ACTOR,
                action=KEY_ACTION,
                ticket_id=None,
                detail={"timeline_after": before},
            )
    except BaseException:
        if created:
            key_file.remove()
        raise
    return True
