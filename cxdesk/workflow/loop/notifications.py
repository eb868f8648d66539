"""Telling agents what they must know: rows read by their TUI, and an optional hook command.

The hook (`notify_command` in the config, an argument list) receives each notification as
JSON on standard input; it is never run through a shell, so no text reaches a command line.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

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
    read_at: datetime | None = None
    ticket_id: int | None = None


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


# session.info key: notifications made in the session's transaction, told once it commits
_HELD_NOTICES = "cxdesk_held_notices"
_Held = tuple[SessionTransaction, Settings, Notification]


def hold_notices(session: Session, settings: Settings, notices: list[Notification]) -> None:
    """Keep notifications for the hook until the session's transaction commits, whoever
    commits it (a command of its own, a batch, ingest): the hook must not tell of a change
    that is not there yet, nor of one a rollback undid, savepoints included."""
    if not notices:
        return
    held: list[_Held] | None = session.info.get(_HELD_NOTICES)
    if held is None:
        held = session.info[_HELD_NOTICES] = []
        event.listen(session, "after_commit", _announce_held)
        event.listen(session, "after_soft_rollback", _drop_held)
    made_in = session.get_nested_transaction() or session.get_transaction()
    assert made_in is not None, "commands run inside a transaction"
    held.extend((made_in, settings, notice) for notice in notices)


def _announce_held(session: Session) -> None:
    """After the outermost commit (a released savepoint commits too): run the hook."""
    if session.in_nested_transaction():
        return
    held: list[_Held] = session.info[_HELD_NOTICES]
    told, held[:] = list(held), []
    for _, settings, notice in told:
        announce(settings, [notice])


def _drop_held(session: Session, rolled_back: SessionTransaction) -> None:
    """Forget what was made in a transaction or savepoint that rolled back, or inside it."""

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is rolled_back:
                return True
            transaction = transaction.parent
        return False

    held: list[_Held] = session.info[_HELD_NOTICES]
    held[:] = [entry for entry in held if not inside(entry[0])]
