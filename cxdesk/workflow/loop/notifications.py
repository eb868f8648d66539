"""Telling agents what they must know: rows read by their TUI, and an optional hook command.

The hook (`notify_command` in the config, an argument list) receives each notification as
JSON on standard input; it is never run through a shell, so no text reaches a command line.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.models import Notification
from cxdesk.output import json_text, say
from cxdesk.workflow.basics.refs import ticket_ref

HOOK_TIMEOUT_S = 10


@dataclass(frozen=True)
class Notice:
    id: int
    at: datetime
    kind: str
    ticket: str | None
    body: str  # as stored: English
    said: Any = None  # its template and values (cxdesk.i18n.Message.stored), if any


def announce(settings: Settings, notices: list[Notification]) -> None:
    """Run the configured hook once per notification; a failing hook is reported, not fatal."""
    if not settings.notify_command:
        return
    for notice in notices:
        payload = {
            "login": notice.login,
            "at": notice.at.isoformat(),
            "kind": notice.kind,
            "ticket": ticket_ref(notice.ticket_id) if notice.ticket_id else None,
            "body": notice.body,
        }
        try:
            subprocess.run(
                settings.notify_command,
                input=json_text(payload),
                text=True,
                timeout=HOOK_TIMEOUT_S,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            say(f"cxdesk: warning: notify_command failed: {exc}", err=True)


def unread(session: Session, login: str) -> list[Notice]:
    """The agent's unread notifications, oldest first (a read: cheap to poll)."""
    rows = session.exec(
        select(Notification)
        .where(Notification.login == login, col(Notification.read_at).is_(None))
        .order_by(col(Notification.id))
        .limit(50)
    )
    return [
        Notice(
            row.id or 0,
            row.at,
            row.kind,
            ticket_ref(row.ticket_id) if row.ticket_id else None,
            row.body,
            row.said,
        )
        for row in rows
    ]


def mark_read(session: Session, notice_ids: list[int], now: datetime) -> None:
    session.execute(
        update(Notification).where(col(Notification.id).in_(notice_ids)).values(read_at=now)
    )
