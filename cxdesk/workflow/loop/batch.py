"""Many tickets' commands in one write transaction (the sweep's passes): one commit and one
taking of the write lock instead of one per ticket, each ticket in a savepoint of its own.
The batch also keeps what every command would otherwise read again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlmodel import Session

from cxdesk.errors import UnusableTicket, WorkflowError
from cxdesk.workflow.audit.chain import AuditChain, append_audit

BATCH = "cxdesk_batch"  # session.info key: the batch the session runs, if any
T = TypeVar("T")
M = TypeVar("M")


@dataclass
class Batch:
    """One write transaction shared by many tickets' commands, each given its `session`.

    It keeps what every command would otherwise read again: the queues, teams and agents
    looked up (the session's identity map holds rows only weakly, so they would be gone by the
    next ticket), and the end of the audit chain, which only this transaction can append to
    while it holds the write lock (SQLite) or the chain's lock (PostgreSQL)."""

    session: Session
    rows: dict[tuple[type[Any], Any], Any] = field(default_factory=dict)
    chain: AuditChain | None = None

    def attempt(self, command: Callable[[Session], T]) -> T | None:
        """Run one ticket's command in a savepoint: when the ticket closed or moved on since
        it was picked (WorkflowError), only its own changes are undone, and None is returned.
        A ticket no command can work with (UnusableTicket) is undone the same way, and the
        error raised for the caller to count it and go on."""
        chain, last = self.chain, self.chain.last if self.chain else ""
        try:
            with self.session.begin_nested():
                return command(self.session)
        except WorkflowError as exc:
            self.chain = chain  # its audit rows are undone: the chain ends where it did
            if chain is not None:
                chain.last = last
            if isinstance(exc, UnusableTicket):
                raise
            return None

    def audit(self, **row: Any) -> None:
        """Append one audit row to the chain, whose end is read once per batch."""
        if self.chain is None:
            self.session.flush()  # as append_audit does before it reads the chain's end
            self.chain = AuditChain(self.session)
        self.chain.add(**row)
        self.chain.write()


def cached_row(session: Session, model: type[M], key: Any) -> M | None:
    """`session.get`, kept for the rest of a batch when the session runs one."""
    batch: Batch | None = session.info.get(BATCH)
    if batch is None:
        return session.get(model, key)
    if (model, key) not in batch.rows:
        batch.rows[model, key] = session.get(model, key)
    row: M | None = batch.rows[model, key]
    return row


def audit_row(session: Session, **row: Any) -> None:
    """Append an audit row: to the batch's chain when the session runs a batch."""
    batch: Batch | None = session.info.get(BATCH)
    if batch is None:
        append_audit(session, **row)
    else:
        batch.audit(**row)
