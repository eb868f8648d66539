"""What every screen needs from the app: the database, settings, who is acting, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow.permissions import Actor
from cxdesk.workflow.queries import TicketRow
from cxdesk.workflow.sla import ClockReader, ClockReading


@dataclass(frozen=True)
class Desk:
    db: Database
    settings: Settings
    viewer: Actor
    queues: tuple[str, ...] | None  # the viewer's data scope; None: every queue
    clock: Callable[[], datetime]
    clocks: ClockReader

    @property
    def actor(self) -> str:
        return self.viewer.login

    def reading(self, row: TicketRow, now: datetime) -> ClockReading | None:
        """The row's running clock, in working time on its queue's calendar."""
        return self.clocks.read(row.queue, row.priority, row.sla_due, row.sla_risk_at, now)
