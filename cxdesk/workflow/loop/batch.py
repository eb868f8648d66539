"""Many tickets' commands in one write transaction (the sweep's passes): one commit and one
taking of the write lock instead of one per ticket, each ticket in a savepoint of its own.
The batch also keeps what every command would otherwise read again (the end of the audit
chain is kept by any transaction: `audit.chain.transaction_chain`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlmodel import Session

from cxdesk.errors import UnusableTicket, WorkflowError

BATCH = "cxdesk_batch"  # session.info key: the batch the session runs, if any
T = TypeVar("T")
M = TypeVar("M")


@dataclass
class Batch:
    """One write transaction shared by many tickets' commands, each given its `session`.

    It keeps what every command would otherwise read again: the queues, teams and agents
    looked up (the session's identity map holds rows only weakly, so they would be gone by the
    next ticket)."""

    session: Session
    rows: dict[tuple[type[Any], Any], Any] = field(default_factory=dict)

    def attempt(self, command: Callable[[Session], T]) -> T | None:
        """Run one ticket's command in a savepoint: when the ticket closed or moved on since
        it was picked (WorkflowError), only its own changes are undone, and None is returned.
        A ticket no command can work with (UnusableTicket) is undone the same way, and the
        error raised for the caller to count it and go on."""
        try:
            with self.session.begin_nested():
                return command(self.session)
        except WorkflowError as exc:
            if isinstance(exc, UnusableTicket):
                raise
            return None


def cached_row(session: Session, model: type[M], key: Any) -> M | None:
    """`session.get`, kept for the rest of a batch when the session runs one. Without a
    flush: a queue, team or agent does not depend on a command's changes not yet written,
    and a flush at this read would write the command's ticket through the ORM, at several
    times the cost of its own write (`loop.ticket_rows.write_changes`)."""
    batch: Batch | None = session.info.get(BATCH)
    if batch is not None and (model, key) in batch.rows:
        row: M | None = batch.rows[model, key]
        return row
    with session.no_autoflush:
        row = session.get(model, key)
    if batch is not None:
        batch.rows[model, key] = row
    return row
