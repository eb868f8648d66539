"""Checking the audit log: its chain, the timeline entries it records, an anchor kept
outside the database, and (`deep`) the tickets' state replayed from it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from cxdesk.db import audit_key_file
from cxdesk.models import AuditEntry, Ticket, TimelineEntry
from cxdesk.workflow.audit import (
    KEY_ACTION,
    STATE_FIELDS,
    TIMELINE_DIGEST_BYTES,
    entry_digest,
    timeline_digest,
)
from cxdesk.workflow.refs import ticket_ref

CHUNK = 5000
_MASK = (1 << (8 * TIMELINE_DIGEST_BYTES)) - 1
_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")
_audit = AuditEntry.__table__.c
_timeline = TimelineEntry.__table__.c
_tickets = Ticket.__table__.c
_TIMELINE_COLUMNS = (
    _timeline.ticket_id,
    _timeline.at,
    _timeline.actor,
    _timeline.kind,
    _timeline.body,
    _timeline.event_id,
    _timeline.data,
)


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


def log_head(head: Head) -> None:
    """Write the head to syslog (journald takes it too), out of reach of the database's
    editors: ident and facility `cxdesk` / daemon."""
    import syslog

    syslog.openlog("cxdesk", syslog.LOG_PID, syslog.LOG_DAEMON)
    syslog.syslog(syslog.LOG_INFO, f"audit head {head}")


def chain_head(session: Session) -> Head:
    last = sa.select(_audit.digest).order_by(_audit.id.desc()).limit(1).scalar_subquery()
    statement = sa.select(sa.func.count(), last).select_from(AuditEntry.__table__)
    count, digest = session.connection().execute(statement).one()
    return Head(count, digest or "")


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    unkeyed: int  # rows before the chain was keyed: chained by plain SHA-256 only
    timeline: int  # timeline entries checked against the digests the rows record
    first_bad: int | None = None  # the id of the first row whose digest does not match
    problem: str | None = None  # what is wrong, for the person reading; None: all is well


def verify_chain(session: Session, anchor: Head | None = None) -> ChainCheck:
    """Recompute every digest in order; report the first row altered or removed, a chain
    shorter than `anchor` or not matching it, and timeline entries edited, added or removed
    since their command recorded them."""
    key_file = audit_key_file(session.get_bind())
    key: bytes | None = None
    previous, count, unkeyed, recorded, timeline_after = "", 0, 0, 0, 0
    connection = session.connection()
    columns = (
        _audit.id,
        _audit.at,
        _audit.actor,
        _audit.action,
        _audit.ticket_id,
        _audit.detail,
        _audit.digest,
    )
    rows = connection.execution_options(yield_per=CHUNK).execute(
        sa.select(*columns).order_by(_audit.id)
    )
    for row_id, at, actor, action, ticket_id, detail, digest in rows:
        count += 1
        if key is None and action == KEY_ACTION and key_file is not None:
            key = key_file.key()  # a clear error when the key is missing
            timeline_after = detail.get("timeline_after", 0)
        if key is None:
            unkeyed += 1
        elif "timeline" in detail:
            recorded += sum(int(entry, 16) for entry in detail["timeline"])
        if digest != entry_digest(previous, at, actor, action, ticket_id, detail, key):
            rows.close()
            return ChainCheck(
                count,
                unkeyed,
                0,
                row_id,
                f"audit row {row_id} does not match the chain (altered, or a row before it "
                "was removed)",
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
    if found != recorded & _MASK:
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
    statement = sa.select(*_TIMELINE_COLUMNS).where(_timeline.id > after)
    total, count = 0, 0
    connection = session.connection().execution_options(yield_per=CHUNK)
    for row in connection.execute(statement):
        total += int.from_bytes(timeline_digest(key, *row))
        count += 1
    return count, total & _MASK


@dataclass(frozen=True)
class DeepCheck:
    tickets: int  # tickets whose state the audit log gives, compared
    uncovered: int  # tickets opened before the chain was keyed (no state recorded)
    problem: str | None = None


def verify_deep(session: Session) -> DeepCheck:
    """Replay the keyed audit rows ticket by ticket: each ticket's stage, assignee, priority
    and escalation level must be as the last of them left it, and its timeline entries must
    be those they recorded. Reports the first ticket (by number) that differs. Assumes
    `verify_chain` passed, which vouches for the rows replayed here."""
    key_file = audit_key_file(session.get_bind())
    connection = session.connection().execution_options(yield_per=CHUNK)
    marker = connection.execute(
        sa.select(_audit.id, _audit.detail).where(_audit.action == KEY_ACTION).order_by(_audit.id)
    ).first()
    if marker is None or key_file is None:
        return DeepCheck(0, 0, "the audit chain is not keyed: nothing to replay")
    key = key_file.key()
    first, after = marker[0], marker[1].get("timeline_after", 0)
    audits = connection.execute(
        sa.select(_audit.ticket_id, _audit.detail)
        .where(_audit.id > first, _audit.ticket_id.is_not(None))
        .order_by(_audit.ticket_id, _audit.id)
    )
    entries = connection.execute(
        sa.select(*_TIMELINE_COLUMNS).where(_timeline.id > after).order_by(_timeline.ticket_id)
    )
    state_columns = (
        _tickets.stage,
        _tickets.assignee,
        _tickets.priority,
        _tickets.escalation_level,
    )
    tickets = connection.execute(sa.select(_tickets.id, *state_columns).order_by(_tickets.id))
    checked = uncovered = 0
    for number, (ticket, rows, timeline) in _merged(tickets, audits, entries):
        state: dict[str, Any] = {}
        recorded = 0
        for _, detail in rows:
            state.update(detail.get("state", {}))
            recorded += sum(int(entry, 16) for entry in detail.get("timeline", ()))
        found = sum(int.from_bytes(timeline_digest(key, *entry)) for entry in timeline)
        ref = ticket_ref(number)
        if ticket is None:
            return DeepCheck(checked, uncovered, f"{ref} is in the audit log but not in tickets")
        if found & _MASK != recorded & _MASK:
            return DeepCheck(
                checked,
                uncovered,
                f"{ref}: its timeline does not match what the audit log recorded (an entry "
                "was edited, added or removed)",
            )
        if set(state) != set(STATE_FIELDS):
            uncovered += 1
            continue
        checked += 1
        stored = dict(zip(STATE_FIELDS, ticket[1:], strict=True))
        for field in STATE_FIELDS:
            if stored[field] != state[field]:
                return DeepCheck(
                    checked,
                    uncovered,
                    f"{ref}: {field} is {stored[field]!r} in tickets, but the audit log "
                    f"says {state[field]!r}",
                )
    return DeepCheck(checked, uncovered)


def _merged(
    tickets: Any, audits: Any, entries: Any
) -> Iterator[tuple[int, tuple[Any, list[Any], list[Any]]]]:
    """The three streams, each sorted by ticket number, side by side per ticket number: the
    ticket's row (or None), its audit rows and its timeline entries."""
    first = itemgetter(0)
    streams = [groupby(stream, first) for stream in (tickets, audits, entries)]
    heads: list[tuple[int, list[Any]] | None] = [_next(s) for s in streams]
    while any(head is not None for head in heads):
        number = min(head[0] for head in heads if head is not None)
        groups: list[list[Any]] = [[], [], []]
        for i, head in enumerate(heads):
            if head is not None and head[0] == number:
                groups[i] = head[1]
                heads[i] = _next(streams[i])
        yield number, (groups[0][0] if groups[0] else None, groups[1], groups[2])


def _next(stream: Iterator[tuple[Any, Iterator[Any]]]) -> tuple[int, list[Any]] | None:
    for number, group in stream:
        return number, list(group)
    return None
