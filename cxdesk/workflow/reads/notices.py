"""An agent's notifications: what is new since their desk last looked, and their inbox.

A toast shows a notification; only the inbox marks it read, so nothing said while the agent
was away is lost in a burst of toasts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, func, type_coerce, update
from sqlmodel import col, select

from cxdesk.db import Database
from cxdesk.models import Notification
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.statements import select_columns
from cxdesk.workflow.loop.notifications import Notice

INBOX_LIMIT = 500  # the newest this many; older ones are still counted unread
# The stored template and values are read as text and parsed here: one row written outside
# cxdesk with something else in it must not keep every other notification from showing.
_COLUMNS = (
    Notification.id,
    Notification.at,
    Notification.kind,
    Notification.ticket_id,
    Notification.body,
    type_coerce(col(Notification.said), Text),
    Notification.read_at,
)


def _notice(values: Any) -> Notice:
    number, at, kind, ticket_id, body, said, read_at = values
    try:
        stored = json.loads(said) if isinstance(said, str) else said
    except ValueError:
        stored = None  # shown as its stored English body
    ref = ticket_ref(ticket_id) if ticket_id is not None and ticket_id > 0 else None
    return Notice(number or 0, at, kind, ref, body, stored, read_at, ticket_id)


@dataclass(frozen=True)
class InboxState:
    unread: int
    newest_id: int  # the highest notification id the agent has: later ones are new


def read_inbox_state(db: Database, login: str) -> InboxState:
    """How many of `login`'s notifications are unread, and where new ones will start."""
    with db.session() as session:
        unread, newest = session.exec(
            select(
                func.count(col(Notification.id)).filter(col(Notification.read_at).is_(None)),
                func.max(col(Notification.id)),
            ).where(Notification.login == login)
        ).one()
    return InboxState(int(unread or 0), int(newest or 0))


def read_new_notices(db: Database, login: str, after_id: int) -> list[Notice]:
    """`login`'s unread notifications made after `after_id`, oldest first: what to toast."""
    with db.session() as session:
        rows = session.exec(
            select_columns(*_COLUMNS)
            .where(
                Notification.login == login,
                col(Notification.id) > after_id,
                col(Notification.read_at).is_(None),
            )
            .order_by(col(Notification.id))
            .limit(INBOX_LIMIT)
        )
        return [_notice(values) for values in rows]


def read_inbox(db: Database, login: str) -> list[Notice]:
    """`login`'s newest notifications, read or not, grouped by ticket: the ticket that heard
    last comes first, and within a ticket the newest first."""
    with db.session() as session:
        notices = [
            _notice(values)
            for values in session.exec(
                select_columns(*_COLUMNS)
                .where(Notification.login == login)
                .order_by(col(Notification.id).desc())
                .limit(INBOX_LIMIT)
            )
        ]
    latest: dict[int | None, int] = {}
    for rank, notice in enumerate(notices):
        latest.setdefault(notice.ticket_id, rank)
    ordered = sorted(enumerate(notices), key=lambda pair: (latest[pair[1].ticket_id], pair[0]))
    return [notice for _, notice in ordered]


def mark_notices_read(db: Database, login: str, now: datetime, ids: list[int] | None = None) -> int:
    """Mark `login`'s unread notifications read (only those of `ids` when given); returns
    how many. Another agent's are never touched, whatever ids are passed."""
    statement = update(Notification).where(
        col(Notification.login) == login, col(Notification.read_at).is_(None)
    )
    if ids is not None:
        statement = statement.where(col(Notification.id).in_(ids))
    with db.write() as session:
        result = session.execute(statement.values(read_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
