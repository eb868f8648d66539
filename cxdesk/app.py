"""The Textual application: opens on the queue as the acting agent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.context import Desk
from cxdesk.screens.help import HelpScreen, screen_keys
from cxdesk.screens.queue import QueueScreen
from cxdesk.workflow.notifications import Notice, mark_read, unread
from cxdesk.workflow.org import all_queues
from cxdesk.workflow.permissions import load_actor, visible_queues
from cxdesk.workflow.sla import ClockReader, SlaPlanner

NOTICE_POLL_S = 2.0


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
            every_queue = all_queues(session)
        self.desk = Desk(
            db=db,
            settings=settings,
            viewer=viewer,
            queues=queues,
            clock=clock,
            clocks=ClockReader(SlaPlanner(settings), every_queue),
        )

    class Noticed(Message):
        def __init__(self, notices: list[Notice]) -> None:
            super().__init__()
            self.notices = notices

    def on_mount(self) -> None:
        self.push_screen(QueueScreen(self.desk))
        self.set_interval(NOTICE_POLL_S, self.poll_notices)

    @work(thread=True, exclusive=True, group="notices", exit_on_error=False)
    def poll_notices(self) -> None:
        """Escalations, breaches and at-risk marks for me arrive as toasts."""
        with self.desk.db.session() as session:
            notices = unread(session, self.desk.actor)
        if notices:
            with self.desk.db.write() as session:
                mark_read(session, [n.id for n in notices], self.desk.clock())
            self.post_message(self.Noticed(notices))

    def on_cxdesk_app_noticed(self, message: CxdeskApp.Noticed) -> None:
        for notice in message.notices:
            severity = "warning" if notice.kind == "at_risk" else "error"
            self.notify(
                notice.body,
                title=notice.kind.replace("_", " "),
                severity=severity,
                markup=False,
                timeout=10,
            )

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        name = type(self.screen).__name__.removesuffix("Screen").lower()
        self.push_screen(HelpScreen(name, screen_keys(self.screen)))
