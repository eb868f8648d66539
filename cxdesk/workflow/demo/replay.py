"""The small demo's clockwork: stories (generators of (delay, action) steps) on one agenda,
run in time order, each step inside the replay's one write transaction.

Apart from the demo's people and what they do (`small`), so that when a step runs and what
it commits with is read in one place.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, select

from cxdesk.db import DriverRead
from cxdesk.errors import WorkflowError
from cxdesk.models import Ticket
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.loop.ticket_rows import TICKET_STAGE

# Built once: the stories ask it (and the stage) at most of their steps.
_ASSIGNEE = DriverRead(select(Ticket.assignee).where(Ticket.id == bindparam("id")))

Story = Iterator[tuple[timedelta, Callable[[datetime], object]]]


@dataclass
class _Step:
    ticket_id: int
    action: Callable[[datetime], object]
    story: Story

    def __lt__(self, other: _Step) -> bool:  # heap ties are broken by sequence first
        return False


class Replay:
    """The agenda of the tickets' stories and the transaction their steps run in; the demo
    builder says what a refused step means (`_rework_if_reopened`)."""

    def __init__(self, system: TicketService, rng: random.Random) -> None:
        self.system = system
        self.rng = rng  # the replay's random numbers, drawn in one order for one seed
        self._agenda: list[tuple[datetime, int, _Step]] = []
        self._active: set[int] = set()  # tickets with a story step on the agenda
        self._sequence = 0
        self._transactions: ExitStack  # the replay's, while it runs
        self._unit: ExitStack | None = None  # the replay's open transaction, if any
        self._unit_session: Session

    def _replaying(self) -> ExitStack:
        """The replay's span, entered with `with`: an error rolls back the open transaction."""
        self._transactions = ExitStack()
        return self._transactions

    def _rework_if_reopened(self, ticket_id: int, at: datetime) -> None:
        raise NotImplementedError

    # -- the agenda ----------------------------------------------------------------------

    def _schedule(self, ticket_id: int, at: datetime, story: Story) -> None:
        self._sequence += 1
        try:
            delay, action = next(story)
        except StopIteration:
            self._active.discard(ticket_id)
            return
        self._active.add(ticket_id)
        heapq.heappush(self._agenda, (at + delay, self._sequence, _Step(ticket_id, action, story)))

    def _run_agenda_until(self, until: datetime) -> None:
        while self._agenda and self._agenda[0][0] <= until:
            at, _, step = heapq.heappop(self._agenda)
            try:
                with self._session().begin_nested():  # a refused step leaves nothing behind
                    step.action(at)
            except WorkflowError:
                # A new alert reopened the ticket under its story: the owner works it again.
                self._active.discard(step.ticket_id)
                self._rework_if_reopened(step.ticket_id, at)
                continue
            self._schedule(step.ticket_id, at, step.story)

    def _hours(self, low: float, high: float) -> timedelta:
        """A delay between two steps of a story, drawn at random."""
        return timedelta(hours=self.rng.uniform(low, high))

    # -- the replay's transactions -------------------------------------------------------

    def _session(self) -> Session:
        """The replay's write transaction, begun when first needed and committed before each
        sweep (which writes in transactions of its own): the events and commands between two
        sweeps are one commit, as a busy desk's would be many, and the batch keeps the queues,
        teams and agents they look up."""
        if self._unit is None:
            self._unit = self._transactions.enter_context(ExitStack())
            self._unit_session = self._unit.enter_context(self.system.batch(())).session
        return self._unit_session

    def _commit(self) -> None:
        if self._unit is not None:
            unit, self._unit = self._unit, None
            unit.close()

    def _do(self, service: TicketService, command: Any) -> Any:
        """`service.handle(command)` in the replay's transaction."""
        return service.handle(command, self._session())

    def _stage(self, ticket_id: int) -> str:
        stage: str = self._ticket_column(TICKET_STAGE, ticket_id)
        return stage

    def _assignee(self, ticket_id: int) -> str | None:
        assignee: str | None = self._ticket_column(_ASSIGNEE, ticket_id)
        return assignee

    def _ticket_column(self, read: DriverRead, ticket_id: int) -> Any:
        session = self._session()
        session.flush()  # as the ORM's read would
        (row,) = read.rows(session.connection(), id=ticket_id)
        return row[0]
