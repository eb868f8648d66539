"""Who is at the desk: read once, when the TUI opens."""

from __future__ import annotations

from dataclasses import dataclass

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Queue
from cxdesk.workflow.access.org import all_queues
from cxdesk.workflow.access.permissions import Actor, load_actor, visible_queues


@dataclass(frozen=True)
class Viewer:
    actor: Actor
    queues: tuple[str, ...] | None  # the queues whose tickets they may see; None: every queue
    every_queue: dict[str, Queue]  # for the clocks: their calendars and teams, by id


def read_viewer(db: Database, login: str, settings: Settings) -> Viewer:
    """The active agent `login`, their data scope and every queue, in one session."""
    with db.session() as session:
        actor = load_actor(session, login, settings)
        return Viewer(actor, visible_queues(session, actor), all_queues(session))
