"""What every screen needs from the app: the database, settings, who is acting, a clock, and the
language the screens speak.

The screens never open a session on the database: they hand it to the read functions of
`cxdesk.workflow.reads` (and of insight, for the dashboard) and to the service, from their
workers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual.binding import BindingsMap
from textual.dom import DOMNode

from cxdesk.config import Settings
from cxdesk.i18n import Translator
from cxdesk.workflow.access.permissions import Actor
from cxdesk.workflow.clocks.sla import ClockReader, ClockReading
from cxdesk.workflow.reads.tickets import TicketRow

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


def localize_bindings(node: DOMNode, t: Translator) -> None:
    """Give `node`'s key bindings descriptions in the desk's language (the footer, the help
    overlay and the command palette read them). BINDINGS are class-level English; each instance
    gets its own translated copy, so two apps in two languages never share one."""
    localized = BindingsMap()
    localized.key_to_bindings = {
        key: [
            dataclasses.replace(
                binding,
                description=t(binding.description),
                tooltip=t(binding.tooltip) if binding.tooltip else binding.tooltip,
                group=(
                    dataclasses.replace(binding.group, description=t(binding.group.description))
                    if binding.group
                    else None
                ),
            )
            for binding in bindings
        ]
        for key, bindings in node._bindings.key_to_bindings.items()
    }
    node._bindings = localized
