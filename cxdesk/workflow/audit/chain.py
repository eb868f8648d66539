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
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from cxdesk.db import PERSON_INFO, audit_key_file, first_on_driver, insert_rows
from cxdesk.errors import DatabaseError
from cxdesk.models import Agent, AgentTeam, AuditEntry, TimelineEntry
from cxdesk.models.base import table_of

_PG_AUDIT_LOCK = 0x63786473  # any constant; serialises appends to the chain on PostgreSQL
KEY_ACTION = "audit-key"  # the row from which the chain is keyed
_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")
KEY_ACTOR = "cxdesk"
TIMELINE_DIGEST_BYTES = 16  # HMAC-SHA256 cut to 128 bits: a command's entries in its row
# a ticket's state in detail["state"]: what it is at, who has it, how urgent, where it is worked
STATE_FIELDS = ("stage", "assignee", "priority", "level", "queue")


# The text every digest is taken over (the chain's format, so it never changes).
_encode_for_digest = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode
_audit_log = table_of(AuditEntry)
_timeline = table_of(TimelineEntry)
_agents = table_of(Agent)
_agent_teams = table_of(AgentTeam)
CHUNK = 5000  # rows read at a time by the verifiers
MASK = (1 << (8 * TIMELINE_DIGEST_BYTES)) - 1  # sums of timeline digests are taken modulo this
TIMELINE_COLUMNS = tuple(
    _timeline.c[name] for name in ("ticket_id", "at", "actor", "kind", "body", "event_id", "data")
)  # what `timeline_digest` covers, in its order
# Read on the driver: every command reads it, and SQLAlchemy's handling of the statement
# costs ten times the read itself.
_CHAIN_END = f"SELECT digest FROM {_audit_log.name} ORDER BY id DESC LIMIT 1"


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


def ticket_state(
    stage: str, assignee: str | None, priority: str, level: int, queue: str
) -> dict[str, Any]:
    """A ticket's state after a command, for `detail["state"]` (replayed by `verify --deep`)."""
    return {
        "stage": str(stage),
        "assignee": assignee,
        "priority": str(priority),
        "level": level,
        "queue": queue,
    }


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
        self.last = first_on_driver(connection, _CHAIN_END) or ""
        self.pending: list[dict[str, Any]] = []
        self.person: str | None = session.info.get(PERSON_INFO)

    def add(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        ticket_id: int | None,
        detail: dict[str, Any],
    ) -> None:
        if self.person is not None and self.person != actor:
            detail = {**detail, "by": self.person}  # who acted as `actor` (--as, automation)
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
            insert_rows(self.session.connection(), _audit_log, self.pending)
            self.pending = []


# session.info key: the chain as the session's transaction appends to it (see `transaction_chain`)
_TRANSACTION_CHAIN = "cxdesk_audit_chain"


def transaction_chain(session: Session) -> AuditChain:
    """The chain the session's transaction appends to: its end is read once, under the chain's
    lock (SQLite's write lock, PostgreSQL's advisory lock), which the transaction then holds
    to its end, so no one else can append meanwhile and the end kept in memory stays the
    chain's end. A rollback, of a savepoint too, forgets it: its rows may be gone, and the
    next append reads the end again."""
    chain: AuditChain | None = session.info.get(_TRANSACTION_CHAIN)
    if chain is None:
        session.flush()  # rows of this transaction come before the chain's end is read
        chain = session.info[_TRANSACTION_CHAIN] = AuditChain(session)
    return chain


@event.listens_for(OrmSession, "after_soft_rollback")
def _forget_rolled_back(session: OrmSession, _rolled_back: SessionTransaction) -> None:
    session.info.pop(_TRANSACTION_CHAIN, None)


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_ended(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction, not a savepoint: its lock is let go
        session.info.pop(_TRANSACTION_CHAIN, None)


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
    chain = transaction_chain(session)
    chain.add(at=at, actor=actor, action=action, ticket_id=ticket_id, detail=detail)
    chain.write()


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    unkeyed: int  # rows before the chain was keyed: chained by plain SHA-256 only
    timeline: int  # timeline entries checked against the digests the rows record
    first_bad: int | None = None  # the id of the first row whose digest does not match
    problem: str | None = None  # what is wrong, for the person reading; None: all is well


@dataclass(frozen=True)
class Head:
    """The chain's length and last digest: written down outside the database, it lets a
    later `verify --anchor` see rows removed from the end, which the chain cannot."""

    rows: int
    digest: str

    def __str__(self) -> str:
        return f"{self.rows}:{self.digest}"


def parse_anchor(text: str) -> Head:
    """`COUNT:DIGEST` as `audit head` prints it; ValueError saying what is wrong."""
    match = _ANCHOR.match(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not COUNT:DIGEST (a row count, then 64 hex digits)")
    return Head(int(match[1]), match[2])


def verify_chain(session: Session, anchor: Head | None = None) -> ChainCheck:
    """Recompute every digest in order; report the first row altered or removed, a chain
    shorter than `anchor` or not matching it, and timeline entries edited, added or removed
    since their command recorded them."""
    key_file = audit_key_file(session.get_bind())
    key: bytes | None = None
    previous, count, unkeyed, recorded, timeline_after = "", 0, 0, 0, 0
    timeline_before: int | None = None
    connection = session.connection()
    columns = (
        _audit_log.c.id,
        _audit_log.c.at,
        _audit_log.c.actor,
        _audit_log.c.action,
        _audit_log.c.ticket_id,
        _audit_log.c.detail,
        _audit_log.c.digest,
    )
    rows = connection.execution_options(yield_per=CHUNK).execute(
        sa.select(*columns).order_by(_audit_log.c.id)
    )
    for row_id, at, actor, action, ticket_id, detail, digest in rows:
        count += 1
        if key is None and action == KEY_ACTION and key_file is not None:
            key = key_file.key()  # a clear error when the key is missing
            timeline_after = detail.get("timeline_after", 0)
            timeline_before = detail.get("timeline_count")
        if key is None:
            unkeyed += 1
        elif "timeline" in detail:
            recorded += sum(int(entry, 16) for entry in detail["timeline"])
        if digest != entry_digest(previous, at, actor, action, ticket_id, detail, key):
            rows.close()
            why = "altered, or a row before it was removed"
            if action == KEY_ACTION and key_file is not None and count == unkeyed + 1:
                why = f"the chain is keyed from it: is {key_file.path} this database's key?"
            return ChainCheck(
                count, unkeyed, 0, row_id, f"audit row {row_id} does not match the chain ({why})"
            )
        if anchor is not None and count == anchor.rows and digest != anchor.digest:
            rows.close()
            return ChainCheck(
                count,
                unkeyed,
                0,
                row_id,
                f"audit row {row_id}, the anchor's row {anchor.rows:,}, does not have the "
                "anchor's digest (the chain was rewritten since the anchor was taken)",
            )
        previous = digest
    if anchor is not None and count < anchor.rows:
        return ChainCheck(
            count,
            unkeyed,
            0,
            problem=f"the chain has {count:,} rows, fewer than the anchor's {anchor.rows:,}: "
            "rows were removed from its end",
        )
    if key is None:
        if key_file is not None and key_file.exists():
            return ChainCheck(
                count,
                unkeyed,
                0,
                problem="the database has an audit key but its chain has no keyed row: "
                "rows were removed or the chain rewritten",
            )
        return ChainCheck(count, unkeyed, 0)
    entries, found = _timeline_sum(session, key, timeline_after)
    older = sa.select(sa.func.count()).where(_timeline.c.id <= timeline_after)
    if timeline_before is not None and connection.execute(older).scalar() != timeline_before:
        return ChainCheck(
            count,
            unkeyed,
            entries,
            problem=f"the timeline entries numbered up to {timeline_after} are not the "
            f"{timeline_before:,} there were when the chain was keyed (added or removed since)",
        )
    if found != recorded & MASK:
        return ChainCheck(
            count,
            unkeyed,
            entries,
            problem="the timeline entries do not match the digests their audit rows recorded "
            "(an entry was edited, added or removed; `--deep` names the ticket)",
        )
    return ChainCheck(count, unkeyed, entries)


def _timeline_sum(session: Session, key: bytes, after: int) -> tuple[int, int]:
    """How many timeline entries were written since the chain was keyed, and the sum of their
    digests: one number to compare with the sum the audit rows record, however many."""
    statement = sa.select(*TIMELINE_COLUMNS).where(_timeline.c.id > after)
    total, count = 0, 0
    connection = session.connection().execution_options(yield_per=CHUNK)
    for row in connection.execute(statement):
        total += int.from_bytes(timeline_digest(key, *row))
        count += 1
    return count, total & MASK


def agents_snapshot(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    """Every agent's role and teams as the agents tables hold them now."""
    teams: dict[str, list[str]] = {}
    pairs = sa.select(_agent_teams.c.agent_login, _agent_teams.c.team_id)
    for login, team in connection.execute(pairs.order_by(_agent_teams.c.team_id)):
        teams.setdefault(login, []).append(team)
    roles = connection.execute(sa.select(_agents.c.login, _agents.c.role))
    return {login: {"role": role, "teams": teams.get(login, [])} for login, role in roles}
