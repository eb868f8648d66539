"""What every screen needs from the app: the database, settings, who is acting, a clock, and the
language the screens speak.

The screens never open a session on the database: they hand it to the read functions of
`cxdesk.workflow.reads` (and of insight, for the dashboard) and to the service, from their
workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cxdesk.config import Settings
from cxdesk.i18n import Translator
from cxdesk.workflow.access.permissions import Actor
from cxdesk.workflow.clocks.sla import ClockReader, ClockReading, SlaPlanner
from cxdesk.workflow.reads.tickets import TicketRow
from cxdesk.workflow.reads.viewer import read_viewer

if TYPE_CHECKING:
    from cxdesk.db import Database


@dataclass(frozen=True)
class Desk:
    db: Database
    settings: Settings
    viewer: Actor
    queues: tuple[str, ...] | None  # the viewer's data scope; None: every queue
    clock: Callable[[], datetime]
    clocks: ClockReader
    lang: str = "en"

    @property
    def actor(self) -> str:
        return self.viewer.login

    @property
    def t(self) -> Translator:
        return Translator(self.lang)

    def reading(self, row: TicketRow, now: datetime) -> ClockReading | None:
        """The row's running clock, in working time on its queue's calendar."""
        return self.clocks.read(row.queue, row.priority, row.sla_due, row.sla_risk_at, now)


def open_desk(
    db: Database, settings: Settings, actor: str, clock: Callable[[], datetime], lang: str
) -> Desk:
    """What every screen works from: who is looking, what they may see, the clocks."""
    viewer = read_viewer(db, actor, settings)
    return Desk(
        db=db,
        settings=settings,
        viewer=viewer.actor,
        queues=viewer.queues,
        clock=clock,
        clocks=ClockReader(SlaPlanner(settings), viewer.every_queue),
        lang=lang,
    )
