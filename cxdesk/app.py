"""The Textual application: opens on the queue as the acting agent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from textual.app import App
from textual.binding import Binding

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.context import Desk
from cxdesk.screens.help import HelpScreen, screen_keys
from cxdesk.screens.queue import QueueScreen
from cxdesk.workflow.permissions import load_actor, visible_queues


def wall_clock() -> datetime:
    return datetime.now(UTC)


class CxdeskApp(App[None]):
    TITLE = "cxdesk"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Keys", id="app.help"),
    ]

    def __init__(
        self,
        db: Database,
        settings: Settings,
        actor: str,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        super().__init__()
        with db.session() as session:
            viewer = load_actor(session, actor, settings)
            queues = visible_queues(session, viewer)
        self.desk = Desk(db=db, settings=settings, viewer=viewer, queues=queues, clock=clock)

    def on_mount(self) -> None:
        self.push_screen(QueueScreen(self.desk))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        name = type(self.screen).__name__.removesuffix("Screen").lower()
        self.push_screen(HelpScreen(name, screen_keys(self.screen)))
