"""What every screen needs from the app: the database, settings, who is acting, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cxdesk.config import Settings
from cxdesk.db import Database


@dataclass(frozen=True)
class Desk:
    db: Database
    settings: Settings
    actor: str
    clock: Callable[[], datetime]
