"""An agent's notifications: what is new since their desk last looked, and their inbox.

A toast shows a notification; only the inbox marks it read, so nothing said while the agent
was away is lost in a burst of toasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import col, select

from cxdesk.db import Database
from cxdesk.models import Notification
from cxdesk.workflow.loop.notifications import Notice, notice_of

INBOX_LIMIT = 500  # the newest this many; older ones are still counted unread


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
            select(Notification)
            .where(
                Notification.login == login,
                col(Notification.id) > after_id,
                col(Notification.read_at).is_(None),
            )
            .order_by(col(Notification.id))
            .limit(INBOX_LIMIT)
        )
        return [notice_of(row) for row in rows]


def read_inbox(db: Database, login: str) -> list[Notice]:
    """`login`'s newest notifications, read or not, grouped by ticket: the ticket that heard
    last comes first, and within a ticket the newest first."""
    with db.session() as session:
        rows = session.exec(
            select(Notification)
            .where(Notification.login == login)
            .order_by(col(Notification.id).desc())
            .limit(INBOX_LIMIT)
        ).all()
    latest: dict[int | None, int] = {}
    for rank, row in enumerate(rows):
        latest.setdefault(row.ticket_id, rank)
    ordered = sorted(enumerate(rows), key=lambda pair: (latest[pair[1].ticket_id], pair[0]))
    return [notice_of(row) for _, row in ordered]


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
