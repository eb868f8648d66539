"""An agent's new notifications, handed to their desk once each."""

from __future__ import annotations

from datetime import datetime

from cxdesk.db import Database
from cxdesk.workflow.loop.notifications import Notice, mark_read, unread


def take_notices(db: Database, login: str, now: datetime) -> list[Notice]:
    """`login`'s unread notifications, marked read at `now` as they are handed over, so that
    each is shown once. Polled every few seconds: the write happens only when there are some."""
    with db.session() as session:
        notices = unread(session, login)
    if notices:
        with db.write() as session:
            mark_read(session, [n.id for n in notices], now)
    return notices
