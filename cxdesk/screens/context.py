"""What every screen needs from the app: the database, settings, who is acting, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow.permissions import Actor


@dataclass(frozen=True)
class Desk:
    db: Database
    settings: Settings
    viewer: Actor
    queues: tuple[str, ...] | None  # the viewer's data scope; None: every queue
    clock: Callable[[], datetime]

    @property
    def actor(self) -> str:
        return self.viewer.login
