"""Checking the audit log beyond its chain: an anchor kept outside the database (the chain's
head), and (`verify_deep`) the tickets' state and timelines replayed from it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from cxdesk.db import audit_key_file
from cxdesk.models import AuditEntry, Ticket, TimelineEntry
from cxdesk.models.base import table_of
from cxdesk.workflow.audit.chain import (
    CHUNK,
    KEY_ACTION,
    MASK,
    STATE_FIELDS,
    TIMELINE_COLUMNS,
    Head,
    agents_snapshot,
    timeline_digest,
)
from cxdesk.workflow.basics.refs import ticket_ref

_audit = table_of(AuditEntry).c
_timeline = table_of(TimelineEntry).c
_tickets = table_of(Ticket).c


def log_head(head: Head) -> None:
    """Write the head to syslog (journald takes it too), out of reach of the database's
    editors: ident and facility `cxdesk` / daemon."""
    import syslog

    syslog.openlog("cxdesk", syslog.LOG_PID, syslog.LOG_DAEMON)
    syslog.syslog(syslog.LOG_INFO, f"audit head {head}")


def chain_head(session: Session) -> Head:
    last = sa.select(_audit.digest).order_by(_audit.id.desc()).limit(1).scalar_subquery()
    statement = sa.select(sa.func.count(), last).select_from(table_of(AuditEntry))
    count, digest = session.connection().execute(statement).one()
    return Head(count, digest or "")


@dataclass(frozen=True)
class DeepCheck:
    tickets: int  # tickets whose state the audit log gives, compared
    uncovered: int  # tickets opened before the chain was keyed (no state recorded)
    problem: str | None = None
    agents: int = 0  # agents whose role and teams the audit log gives, compared


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
    first, mark = marker[0], marker[1]
    after, upto = mark.get("timeline_after", 0), mark.get("tickets_upto", 0)
    if "tickets_count" in mark:
        older = sa.select(sa.func.count()).where(_tickets.id <= upto)
        if connection.execute(older).scalar() != mark["tickets_count"]:
            return DeepCheck(
                0,
                0,
                f"the tickets numbered up to {ticket_ref(upto)} are not the "
                f"{mark['tickets_count']:,} there were when the chain was keyed",
            )
    agents = 0
    if "agents" in mark:
        agents, problem = _checked_agents(connection, first, mark["agents"])
        if problem is not None:
            return DeepCheck(0, 0, problem)
    audits = connection.execute(
        sa.select(_audit.ticket_id, _audit.detail)
        .where(_audit.id > first, _audit.ticket_id.is_not(None))
        .order_by(_audit.ticket_id, _audit.id)
    )
    entries = connection.execute(
        sa.select(*TIMELINE_COLUMNS).where(_timeline.id > after).order_by(_timeline.ticket_id)
    )
    state_columns = (
        _tickets.stage,
        _tickets.assignee,
        _tickets.priority,
        _tickets.escalation_level,
        _tickets.queue_id,
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
        if found & MASK != recorded & MASK:
            return DeepCheck(
                checked,
                uncovered,
                f"{ref}: its timeline does not match what the audit log recorded (an entry "
                "was edited, added or removed)",
            )
        if set(state) != set(STATE_FIELDS):
            if number > upto:  # opened since the chain was keyed, yet no row says so
                return DeepCheck(
                    checked, uncovered, f"{ref} is in tickets but not in the audit log"
                )
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
    return DeepCheck(checked, uncovered, agents=agents)


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


def _checked_agents(connection: Any, first: int, before: dict[str, Any]) -> tuple[int, str | None]:
    """Each agent's role and teams must be those the last audit row about them gave (or,
    for one no row mentions, those they had when the chain was keyed): an admin made by
    editing the agents table is named. How many agents were compared, and the first problem."""
    expected = {login: dict(info) for login, info in before.items()}
    rows = connection.execute(
        sa.select(_audit.detail)
        .where(_audit.id > first, _audit.action == "user")
        .order_by(_audit.id)
    )
    for (detail,) in rows:
        if "role" in detail:
            expected[detail["login"]] = {"role": detail["role"], "teams": detail["teams"]}
    actual = agents_snapshot(connection)
    for login in sorted(set(expected) | set(actual)):
        want, have = expected.get(login), actual.get(login)
        if want is None:
            return 0, f"agent {login!r} is in the agents table but not in the audit log"
        if have is None:
            return 0, f"agent {login!r} is in the audit log but not in the agents table"
        if want["role"] != have["role"] or sorted(want["teams"]) != sorted(have["teams"]):
            return 0, (
                f"agent {login!r} is {have['role']} in {', '.join(have['teams']) or 'no team'}"
                f" in the agents table, but the audit log says {want['role']} in "
                f"{', '.join(want['teams']) or 'no team'}"
            )
    return len(actual), None
