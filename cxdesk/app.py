"""The Textual application: opens on the queue as the acting agent."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from cxdesk.config import Settings
from cxdesk.errors import CxdeskError
from cxdesk.output import sanitize
from cxdesk.screens.commands import DeskCommands, open_palette, system_commands
from cxdesk.screens.context import open_desk
from cxdesk.screens.crash_line import OneLineCrashApp
from cxdesk.screens.format import LIGHT_ANSI, NOTICE_TITLES, SCREEN_TITLES
from cxdesk.screens.help import HelpScreen, screen_keys
from cxdesk.screens.live import DataChanged, InboxChanged, LoadFailed
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.screens.queue import QueueScreen
from cxdesk.workflow.loop.notifications import Notice
from cxdesk.workflow.ops.changes import ChangeWatcher
from cxdesk.workflow.reads.notices import read_inbox_state, read_new_notices

if TYPE_CHECKING:
    from cxdesk.db import Database

NOTICE_POLL_S = 2.0
NOTICE_BURST = 3  # more new notifications than this at once toast as one summary
LIVE_POLL_S = 2.0  # how often screens reload while no change feed is up
# A notice is an error toast unless it is a warning ahead of time or news of a fix.
NOTICE_SEVERITY: dict[str, SeverityLevel] = {"at_risk": "warning", "problem": "information"}


def wall_clock() -> datetime:
    return datetime.now(UTC)


class CxdeskApp(OneLineCrashApp[None]):
    TITLE = "cxdesk"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Keys", id="app.help"),
        Binding("i", "inbox", "Inbox", id="app.inbox"),
    ]
    COMMANDS = App.COMMANDS | {DeskCommands}

    unread: reactive[int] = reactive(0, init=False)  # my unread notifications: the badge

    def __init__(
        self,
        db: Database,
        settings: Settings,
        actor: str,
        clock: Callable[[], datetime] = wall_clock,
        lang: str = "en",
    ) -> None:
        super().__init__()
        self._claiming = False  # a claim-next is in flight
        self._seen_notice: int | None = None  # the newest notification already accounted for
        self.desk = open_desk(db, settings, actor, clock, lang)
        localize_bindings(self, self.desk.t)
        self.ansi_theme_light = LIGHT_ANSI  # named colours that read on a light theme

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast (screens' too) passes here: errors and notices may quote stored text,
        which Textual would hand to the terminal with its control sequences. None once the
        last screen is gone (a notice that arrives as the desk closes)."""
        if not self.screen_stack:
            return
        super().notify(
            sanitize(message, multiline=True),
            title=sanitize(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    class Noticed(Message):
        """What the inbox holds now: the unread count, and the notifications new since the
        last look (`first`: the desk's first look, whose backlog is summed up, not shown)."""

        def __init__(self, notices: list[Notice], unread: int, *, first: bool = False) -> None:
            super().__init__()
            self.notices = notices
            self.unread = unread
            self.first = first

    class FeedState(Message):
        """The change feed came up (live) or went down (poll until it is back)."""

        def __init__(self, live: bool, reason: str) -> None:
            super().__init__()
            self.live = live
            self.reason = reason

    class Claimed(Message):
        """A claim-next is done: the ticket taken, or why none was (a warning when there was
        nothing to claim, an error when the claim itself failed)."""

        def __init__(
            self, ticket_id: int | None, error: str = "", severity: SeverityLevel = "warning"
        ) -> None:
            super().__init__()
            self.ticket_id = ticket_id
            self.error = error
            self.severity = severity

    def on_mount(self) -> None:
        # Everything loaded so far (modules, styles, table metadata) lives as long as the app:
        # kept out of the collector's scans, a full collection no longer stalls a keystroke.
        # The collector is on from here (`cxdesk` starts the desk with it off: `run_tui`).
        gc.freeze()
        gc.enable()
        self.push_screen(QueueScreen(self.desk))
        self.poll_notices()
        self.set_interval(NOTICE_POLL_S, self.poll_notices)
        # Screens reload when the database changes: told by the change feed (LISTEN/NOTIFY on
        # PostgreSQL, PRAGMA data_version on SQLite) on a thread of its own, not a worker, so
        # that waiting for workers never waits for it. Until it is up, and whenever it is
        # down, a poll stands in.
        self.changes_live = False
        self._live_poll = self.set_interval(LIVE_POLL_S, self._poll_for_changes)
        self._watcher = ChangeWatcher(
            self.desk.db,
            on_change=lambda: self._from_watcher(DataChanged()),
            on_state=lambda live, why: self._from_watcher(self.FeedState(live, why)),
        )
        self._watcher.start()

    def on_unmount(self) -> None:
        self._watcher.stop(join=0)

    def _from_watcher(self, message: Message) -> None:
        with suppress(RuntimeError):  # the app is gone and its loop closed
            self.post_message(message)

    def on_cxdesk_app_feed_state(self, message: CxdeskApp.FeedState) -> None:
        self.changes_live = message.live
        if message.live:
            self._live_poll.pause()
        else:
            self.log.warning(f"live refresh by polling: {message.reason}")
            self._live_poll.resume()

    def _poll_for_changes(self) -> None:
        if not self.changes_live:
            self.screen.post_message(DataChanged())

    def on_data_changed(self, _message: DataChanged) -> None:
        """From the watcher: the screen on top reloads what it shows."""
        self.screen.post_message(DataChanged())

    def action_claim_next(self) -> None:
        """One claim at a time: a thread worker cannot be cancelled, so a second C while the
        first is in flight would claim a second case. The key is ignored until the first is
        answered (Claimed, which the worker posts whatever happens)."""
        if self._claiming:
            return
        self._claiming = True
        self.claim_next()

    @work(thread=True, group="claim-next", exit_on_error=False)
    def claim_next(self) -> None:
        """Take the most urgent unassigned case of my queues, then open it."""
        from cxdesk.workflow.loop.desk_commands import ClaimNext  # on the first C, not before
        from cxdesk.workflow.loop.service import TicketService

        service = TicketService(self.desk.db, self.desk.settings, self.desk.actor)
        try:
            ticket = service.handle(ClaimNext(at=self.desk.clock()))
        except CxdeskError as exc:
            self.post_message(self.Claimed(None, self.desk.t.error(exc)))
            return
        except Exception as exc:  # shown to the user; C works again
            failed = self.desk.t(
                "could not claim the next case: {error}", error=self.desk.t.error(exc)
            )
            self.post_message(self.Claimed(None, failed, severity="error"))
            return
        self.post_message(self.Claimed(ticket.id))

    def on_cxdesk_app_claimed(self, message: CxdeskApp.Claimed) -> None:
        self._claiming = False
        if message.ticket_id is None:
            self.notify(message.error, severity=message.severity, markup=False)
            return
        from cxdesk.screens.ticket import TicketScreen
        from cxdesk.workflow.basics.refs import ticket_ref

        claimed = self.desk.t("{ticket} claimed", ticket=ticket_ref(message.ticket_id))
        self.notify(claimed, markup=False)
        self.push_screen(TicketScreen(self.desk, message.ticket_id))

    @work(thread=True, exclusive=True, group="notices", exit_on_error=False)
    def poll_notices(self) -> None:
        """Count my unread notifications, and fetch those new since the last look (to toast).
        Cheap when nothing changed: one count over an index, no write."""
        state = read_inbox_state(self.desk.db, self.desk.actor)
        seen = self._seen_notice
        self._seen_notice = state.newest_id
        if seen is None:
            self.post_message(self.Noticed([], state.unread, first=True))
        elif state.newest_id > seen:
            notices = read_new_notices(self.desk.db, self.desk.actor, seen)
            self.post_message(self.Noticed(notices, state.unread))
        elif state.unread != self.unread:
            self.post_message(self.Noticed([], state.unread))

    def on_load_failed(self, message: LoadFailed) -> None:
        """Any screen's failed load, as one error toast."""
        self.notify(message.error, severity="error", markup=False)

    def on_cxdesk_app_noticed(self, message: CxdeskApp.Noticed) -> None:
        """Escalations, breaches and at-risk marks for me arrive as toasts; a backlog or a
        burst arrives as one summary that points at the inbox."""
        self.unread = message.unread
        t = self.desk.t
        if message.first or len(message.notices) > NOTICE_BURST:
            count = message.unread if message.first else len(message.notices)
            if count:
                summary = (
                    t("{count} unread notifications — i opens the inbox", count=count)
                    if message.first
                    else t("{count} new notifications — i opens the inbox", count=count)
                )
                self.notify(summary, severity="warning", markup=False, timeout=10)
            return
        for notice in message.notices:
            severity: SeverityLevel = NOTICE_SEVERITY.get(notice.kind, "error")
            said = t.said(notice.said)  # in the desk's language, ticket first
            self.notify(
                f"{notice.ticket} {said}" if said and notice.ticket else notice.body,
                title=t(NOTICE_TITLES.get(notice.kind, notice.kind)),
                severity=severity,
                markup=False,
                timeout=10,
            )

    def on_inbox_changed(self, _message: InboxChanged) -> None:
        self.poll_notices()

    def action_inbox(self) -> None:
        from cxdesk.screens.inbox import InboxScreen  # on the first i: the queue comes first

        if not isinstance(self.screen, InboxScreen):
            self.push_screen(InboxScreen(self.desk))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        name = type(self.screen).__name__.removesuffix("Screen").lower()
        title = self.desk.t(SCREEN_TITLES.get(name, name))
        self.push_screen(HelpScreen(title, screen_keys(self.screen), self.desk.t))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        return system_commands(self, screen, super().get_system_commands(screen))

    def action_command_palette(self) -> None:
        open_palette(self)
