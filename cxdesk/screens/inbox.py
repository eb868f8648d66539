"""The notification inbox on `i`: what the desk told me, newest first, grouped by ticket.

Toasts only show a notification; here it is read. Enter opens the ticket and marks its
notifications read, `m` marks them all read.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from cxdesk.i18n import N_
from cxdesk.screens.context import Desk
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.format import NOTICE_TITLES, local_time, plain
from cxdesk.screens.live import DataChanged, InboxChanged, LoadFailed
from cxdesk.screens.loads import Answer, Loads
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.workflow.loop.notifications import Notice
from cxdesk.workflow.reads.notices import (
    INBOX_LIMIT,
    mark_notices_read,
    read_inbox,
    read_inbox_state,
)


class InboxScreen(Screen[None]):
    DEFAULT_CSS = """
    InboxScreen #inbox-title { height: 1; text-style: bold; }
    InboxScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,i", "app.pop_screen", N_("Back"), id="inbox.back"),
        Binding("enter", "open", N_("Open"), id="inbox.open"),
        Binding("m", "mark_all", N_("Mark all read"), id="inbox.mark_all"),
        Binding("r", "reload", N_("Refresh"), id="inbox.refresh"),
    ]

    class Loaded(Answer):
        def __init__(self, number: int, notices: list[Notice], unread: int) -> None:
            super().__init__(number)
            self.notices = notices
            self.unread = unread  # all of them, shown or not

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk
        self.t = desk.t
        self.notices: dict[str, Notice] = {}
        self.loads = Loads()
        localize_bindings(self, self.t)

    def compose(self) -> ComposeResult:
        yield Static(id="inbox-title")
        table: DataTable[Text | str] = DataTable(cursor_type="row", zebra_stripes=True)
        t = self.t
        for key, label in (
            ("unread", ""),
            ("ticket", t("ticket")),
            ("at", t("when")),
            ("kind", t("kind")),
            ("body", t("what")),
        ):
            table.add_column(label, key=key)
        yield table
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    def on_data_changed(self, _message: DataChanged) -> None:
        self.load()

    def load(self) -> None:
        self._load(self.loads.start())

    @work(thread=True, exclusive=True, group="inbox", exit_on_error=False)
    def _load(self, number: int) -> None:
        try:
            notices = read_inbox(self.desk.db, self.desk.actor)
            unread = read_inbox_state(self.desk.db, self.desk.actor).unread
        except Exception as exc:  # shown to the user; the screen stays as it was
            failed = self.t("could not load the inbox: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(self.Loaded(number, notices, unread))

    def on_inbox_screen_loaded(self, message: InboxScreen.Loaded) -> None:
        if not self.loads.shows(message):
            return
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        self.notices = {str(n.id): n for n in message.notices}
        tz, t = self.desk.settings.timezone, self.t
        previous: str | None = None
        for notice in message.notices:
            unread = notice.read_at is None
            said = t.said(notice.said) or notice.body
            if notice.ticket and said.startswith(f"{notice.ticket} "):
                said = said.removeprefix(f"{notice.ticket} ")  # the ticket has its column
            table.add_row(
                Text("●", style="bold") if unread else "",
                plain(notice.ticket if notice.ticket != previous else "", "bold"),
                local_time(notice.at, tz),
                t(NOTICE_TITLES.get(notice.kind, notice.kind)),
                plain(said, "bold" if unread else ""),
                key=str(notice.id),
            )
            previous = notice.ticket
        if message.notices:
            table.move_cursor(row=min(cursor, len(message.notices) - 1))
        title = t("Inbox · {unread} unread", unread=f"{message.unread:,}")
        if len(message.notices) == INBOX_LIMIT:
            title += " · " + t("the newest {count} shown", count=f"{INBOX_LIMIT:,}")
        self.query_one("#inbox-title", Static).update(plain(title))

    def _current(self) -> Notice | None:
        table = self.query_one(DataTable)
        if not self.notices or table.cursor_row < 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.notices.get(key or "")

    def action_open(self) -> None:
        notice = self._current()
        if notice is None or notice.ticket_id is None:
            return
        same = [n.id for n in self.notices.values() if n.ticket_id == notice.ticket_id]
        self.mark(same)
        from cxdesk.screens.ticket import TicketScreen

        self.app.push_screen(TicketScreen(self.desk, notice.ticket_id))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_mark_all(self) -> None:
        self.mark(None)

    @work(thread=True, group="inbox-mark", exit_on_error=False)
    def mark(self, ids: list[int] | None) -> None:
        """Mark read (all of mine, or those `ids`), then show the inbox and badge again."""
        try:
            mark_notices_read(self.desk.db, self.desk.actor, self.desk.clock(), ids)
        except Exception as exc:
            failed = self.t("could not mark read: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.load()
        self.app.post_message(InboxChanged())
