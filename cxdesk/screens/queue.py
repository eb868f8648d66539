"""The queue: one page of tickets at a time, fetched from the database in a worker.

The screen's workers (page, count, the pages ahead) and the bindings that start them share
one state (the view, the filter, the cursor), so they stay together; the table itself is
`ticket_table`, the filter box `queue_filter`, the marks `bulk`, the saved views
`queue_views`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive

from cxdesk.screens.bulk import BulkActions
from cxdesk.screens.context import Desk
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.format import SORT_TITLES, age, plain, sla_cell
from cxdesk.screens.live import DataChanged, LoadFailed
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.screens.queue_filter import FilterBox
from cxdesk.screens.queue_rows import (
    COLUMN_WIDTHS,
    COUNT_CAP,
    VIEW_TITLES,
    page_span,
    row_cells,
)
from cxdesk.screens.queue_views import VIEW_KEYS, SavedViews
from cxdesk.screens.ticket_table import Column, StatusLine, TicketTable
from cxdesk.workflow.reads.interrupt import Interrupter
from cxdesk.workflow.reads.search import Search
from cxdesk.workflow.reads.tickets import (
    Sort,
    TicketFilter,
    TicketRow,
    View,
    default_sort,
    read_counted_page,
    read_ticket_count,
    read_ticket_page,
)
from cxdesk.workflow.reads.word_ways import Way

PAGE_SIZE = 100
PAGES_KEPT = 64  # pages remembered to show at once on coming back to them
FETCH_AHEAD_AFTER_S = 0.3  # the first frame goes out before the other views are fetched
SLOW_LOAD_NOTE_S = 0.25  # a load still under way after this says so on the status line
VIEWS_GROUP = Binding.Group("Views", compact=True)


@dataclass(frozen=True)
class Page:
    request: int  # which load asked for it: answers to older requests are dropped
    scope: TicketFilter  # the list it is a page of (the filter without its instant)
    number: int
    rows: list[TicketRow]
    total: int | None = None  # found with the page, or counted after; at most COUNT_CAP + 1
    remembered: bool = False  # shown from an earlier fetch while this request's is under way


class QueueScreen(SavedViews, BulkActions, FilterBox):
    CSS_PATH = "queue.tcss"
    BINDINGS = [
        *(
            Binding(
                str(index),
                f"view('{view.value}')",
                title,
                id=f"queue.view.{view.value}",
                group=VIEWS_GROUP,  # one footer entry, `1234567 Views`; each in the help
            )
            for index, (view, title) in enumerate(VIEW_TITLES.items(), start=1)
        ),
        *(
            Binding(
                key,
                f"saved_view({index})",
                "Saved view",
                id=f"queue.saved_view.{key}",
                group=VIEWS_GROUP,
            )
            for index, key in enumerate(VIEW_KEYS)
        ),
        Binding("enter", "open", "Open", id="queue.open"),
        Binding("right_square_bracket", "page(1)", "Next page", id="queue.next_page"),
        Binding("left_square_bracket", "page(-1)", "Previous page", id="queue.previous_page"),
        Binding("r", "reload", "Refresh", id="queue.refresh"),
        Binding("slash", "search", "Filter", id="queue.filter"),
        Binding("d", "dashboard", "Dashboard", id="queue.dashboard"),
        Binding("R", "reports", "Reports", id="queue.reports"),
        Binding("s", "sort", "Sort", id="queue.sort"),
        Binding("C", "app.claim_next", "Claim next", id="queue.claim_next"),
        # In the help, not the footer: `b` there says where marking leads.
        Binding("space", "mark", "Mark", id="queue.mark", show=False),
        Binding("asterisk", "mark_page", "Mark page", id="queue.mark_page", show=False),
        Binding("b", "bulk", "Bulk action", id="queue.bulk"),
    ]

    # They choose what to load; the table and status line repaint themselves when it arrives.
    view: reactive[View] = reactive(View.ALL, init=False, repaint=False)
    page_number: reactive[int] = reactive(0, init=False, repaint=False)

    class Loaded(Message):
        def __init__(
            self, page: Page, flt: TicketFilter | None = None, way: Way | None = None
        ) -> None:
            super().__init__()
            self.page = page
            self.flt = flt  # what to count, with its instant; None for a page fetched ahead
            self.way = way  # how the page found its words: the count finds them so too

    class Failed(Message):
        """The page asked for by `request` could not be read: no load is under way."""

        def __init__(self, request: int) -> None:
            super().__init__()
            self.request = request

    class Counted(Message):
        def __init__(self, request: int, total: int) -> None:
            super().__init__()
            self.request = request
            self.total = total

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk
        self.t = desk.t
        localize_bindings(self, self.t)
        self.current: Page | None = None
        self.request = 0
        self.seen: dict[tuple[TicketFilter, int], Page] = {}  # the last of each list's pages
        self.focus_table_when_shown = False
        self.reload_when_loaded = False  # the data changed while a load was under way
        self.failed = 0  # the last request whose page could not be read
        self.interrupter = Interrupter()  # stops the statements of superseded loads
        self.search: Search | None = None
        self.sort: Sort | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield self.filter_box()
        columns = [
            Column(key, self.t(key), *COLUMN_WIDTHS[key], grow=key == "Title")
            for key in self.columns
        ]
        yield TicketTable(columns, id="tickets")
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#tickets", TicketTable).focus()
        self._show_status(self.t("loading…"))
        self.load()
        self.set_interval(1.0, self._tick)
        self.watch(self.app, "unread", lambda _unread: self._show_status(), init=False)
        self.load_views()

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> None:
        """Fetch the page for the current view, filter, order and page number. A page shown
        before (or fetched ahead) is put on screen at once, and replaced when the fetch comes
        back a moment later: switching views answers at the speed of drawing. Statements
        still running for an earlier load are stopped."""
        self.interrupter.interrupt()
        self.request += 1
        self.set_timer(SLOW_LOAD_NOTE_S, partial(self._note_slow_load, self.request))
        flt = self._filter(self.view)
        key = (replace(flt, now=None), self.page_number)
        shown = self.current
        seen = self.seen.get(key)
        if seen is not None and (shown is None or (shown.scope, shown.number) != key):
            self._show(replace(seen, request=self.request, remembered=True))
        self._fetch(self.request, flt, self.page_number)

    def _filter(self, view: View) -> TicketFilter:
        return TicketFilter(
            view=view,
            me=self.desk.actor,
            now=self.desk.clock(),
            queues=self.desk.queues,
            search=self.search,
            sort=self.sort,
        )

    @work(thread=True, group="queue-ahead", exit_on_error=False)
    def _fetch_ahead(self, filters: list[TicketFilter]) -> None:
        """The first page of the other views, for `load` to show at once when one is chosen."""
        for flt in filters:
            rows = read_ticket_page(self.desk.db, flt, limit=PAGE_SIZE)
            self.post_message(self.Loaded(Page(0, replace(flt, now=None), 0, rows)))

    @property
    def fetching(self) -> bool:
        """The page asked for last is not on screen yet (at most a remembered one is)."""
        page = self.current
        if self.failed == self.request:
            return False
        return page is None or page.request != self.request or page.remembered

    def _note_slow_load(self, request: int) -> None:
        if request == self.request and self.fetching:
            self._show_status(self.t("loading…"))  # a word that matches little scans a while

    @work(thread=True, exclusive=True, group="queue-load", exit_on_error=False)
    def _fetch(self, request: int, flt: TicketFilter, number: int) -> None:
        """One page; its count, unless the page's read found it, starts once the page is on
        screen (`_count`)."""
        try:
            read = read_counted_page(
                self.desk.db,
                flt,
                limit=PAGE_SIZE,
                offset=number * PAGE_SIZE,
                cap=COUNT_CAP,
                interrupter=self.interrupter,
            )
        except Exception as exc:  # shown to the user, the screen stays usable
            self.post_message(self.Failed(request))
            self._failed(request, exc)
            return
        page = Page(request, replace(flt, now=None), number, read.rows, read.total)
        self.post_message(self.Loaded(page, flt, read.way))

    def _failed(self, request: int, error: Exception) -> None:
        """Report a worker's error, unless a newer load superseded (and so stopped) it."""
        if request == self.request:
            self.post_message(
                LoadFailed(self.t("could not load tickets: {error}", error=self.t.error(error)))
            )

    def _count_if_current(self, request: int, flt: TicketFilter, way: Way | None) -> None:
        if request == self.request:  # else a newer load is under way: its count is the one
            self._count(request, flt, way)

    @work(thread=True, exclusive=True, group="queue-count", exit_on_error=False)
    def _count(self, request: int, flt: TicketFilter, way: Way | None) -> None:
        """The (capped) count, started once the page's frame is out: run beside the drawing,
        a word's count would take the CPU from it."""
        try:
            total = read_ticket_count(
                self.desk.db,
                flt,
                cap=COUNT_CAP,
                interrupter=self.interrupter,
                still_wanted=lambda: request == self.request,  # else superseded before it began
                way=way,
            )
        except Exception as exc:
            self._failed(request, exc)
            return
        if total is not None:
            self.post_message(self.Counted(request, total))

    def on_queue_screen_failed(self, message: QueueScreen.Failed) -> None:
        """The next change, or key, loads again."""
        if message.request == self.request:
            self.failed, self.reload_when_loaded = message.request, False
            self._show_status()

    def on_queue_screen_counted(self, message: QueueScreen.Counted) -> None:
        page = self.current
        if page is not None and page.request == message.request:
            self.current = self.seen[(page.scope, page.number)] = replace(page, total=message.total)
            self._show_status()

    def on_queue_screen_loaded(self, message: QueueScreen.Loaded) -> None:
        page = message.page
        if page.request == 0:  # fetched ahead
            self.seen.setdefault((page.scope, page.number), page)
            return
        if page.request != self.request:
            return  # an answer to an older request
        if not page.rows and page.number > 0:
            self.page_number -= 1  # paged past the end (the last page was exactly full)
            return
        if len(page.rows) < PAGE_SIZE:  # the last page: the count is known without counting
            page = replace(page, total=page.number * PAGE_SIZE + len(page.rows))
        if len(self.seen) >= PAGES_KEPT:
            self.seen.clear()
        self.seen[(page.scope, page.number)] = page
        if self.current is None:  # once the first page is drawn, fetch the other views' first
            others = [self._filter(view) for view in View if view is not self.view]
            self.set_timer(FETCH_AHEAD_AFTER_S, lambda: self._fetch_ahead(others))
        self._show(page)
        if self.reload_when_loaded:
            self.reload_when_loaded = False
            self.load()
        elif page.total is None and message.flt is not None:
            table = self.query_one("#tickets", TicketTable)
            count = partial(self._count_if_current, page.request, message.flt, message.way)
            table.call_after_drawn(count)

    def _show(self, page: Page) -> None:
        shown = self.current
        same_page = shown is not None and (shown.scope, shown.number) == (page.scope, page.number)
        if shown is not None and shown.scope == page.scope:
            if page.total is None:  # the same list: keep its count meanwhile
                page = replace(page, total=shown.total)
            if same_page and shown.rows == page.rows:
                self.current = page  # a refresh that found nothing new: leave the table be
                self.query_one("#tickets", TicketTable).call_after_drawn(self._refocus_table)
                return
        now = self.desk.clock()
        table = self.query_one("#tickets", TicketTable)
        table.set_rows(
            [(row.id, row_cells(self.desk, row, now, self.columns)) for row in page.rows],
            keep_cursor=same_page,  # a refresh; another view, filter, order or page starts on top
        )
        self.current = page
        self._show_status()
        table.call_after_drawn(self._refocus_table)

    def _refocus_table(self) -> None:
        if self.focus_table_when_shown:
            self.focus_table_when_shown = False
            self.query_one("#tickets", TicketTable).focus()

    def on_load_failed(self, _message: LoadFailed) -> None:
        self._refocus_table()  # and on to the app, which shows the error

    def _tick(self) -> None:
        """Countdowns move every second without touching the database."""
        if self.current is None or self.app.screen is not self:
            return
        table = self.query_one("#tickets", TicketTable)
        now = self.desk.clock()
        for row in self.current.rows:
            table.update_cell(row.id, "SLA", sla_cell(self.desk.reading(row, now), self.t))
            table.update_cell(row.id, "Age", plain(age(row.opened_at, now)))

    def on_data_changed(self, _message: DataChanged) -> None:
        """Changes made elsewhere show up within two seconds, the cursor kept on its ticket. A
        load under way is let finish and then done again: restarting a slow search on every
        change would never show its answer."""
        if self.app.screen is not self:
            return
        if self.fetching:
            self.reload_when_loaded = True
        else:
            self.load()

    def page_rows(self) -> list[TicketRow]:
        return self.current.rows if self.current is not None else []

    def marks_changed(self) -> None:
        self.query_one("#tickets", TicketTable).set_marked(frozenset(self.marks))
        self._show_status()

    def _cursor_key(self) -> str | None:
        return self.query_one("#tickets", TicketTable).cursor_key

    def _show_status(self, note: str = "") -> None:
        page = self.current
        t = self.t
        title = self.saved.title if self.saved else t(VIEW_TITLES[self.view])
        parts = [f"cxdesk · {self.desk.actor} · {title}"]
        if self.sort is not None:
            parts.append(t("by {order}", order=t(SORT_TITLES[self.sort.value])))
        if self.search is not None:
            words = " ".join([f"{k}:{v}" for k, v in self.search.terms] + list(self.search.words))
            parts.append(t("filter: {words}", words=words))
        if page is not None and not note:
            parts.append(page_span(t, page.number * PAGE_SIZE, len(page.rows), page.total))
        if self.marks:
            parts.append(t("{count} marked — b acts on them", count=len(self.marks)))
        if note:
            parts.append(note)
        unread = getattr(self.app, "unread", 0)
        if unread:
            parts.append(t("{count} unread — i", count=unread))
        self.query_one("#status", StatusLine).text = " · ".join(parts)

    # -- actions ---------------------------------------------------------------------------

    def watch_view(self) -> None:
        self.reload_from_top()

    def reload_from_top(self) -> None:
        """Another view, filter or order: its first page, loaded once."""
        if self.page_number:
            self.page_number = 0  # its watcher loads
        else:
            self.load()

    def watch_page_number(self) -> None:
        self.load()

    def action_view(self, view: str) -> None:
        leaving = self.saved is not None
        self.leave_saved_view()
        if self.view == View(view) and leaving:
            self.reload_from_top()
        self.view = View(view)

    def action_page(self, step: int) -> None:
        if self.current is None:
            return
        full = len(self.current.rows) == PAGE_SIZE  # a next page may exist, counted or not
        if (step < 0 and self.page_number > 0) or (step > 0 and full):
            self.page_number += step

    def action_reload(self) -> None:
        self.load()

    def action_sort(self) -> None:
        """Cycle the order: by SLA, by priority, by age (newest first)."""
        order = list(Sort)
        current = self.sort or default_sort(self.view)
        self.sort = order[(order.index(current) + 1) % len(order)]
        self.reload_from_top()

    def action_dashboard(self) -> None:
        from cxdesk.screens.dashboard import DashboardScreen

        self.app.push_screen(DashboardScreen(self.desk))

    def action_reports(self) -> None:
        from cxdesk.screens.reports import ReportScreen

        self.app.push_screen(ReportScreen(self.desk))

    def action_open(self) -> None:
        key = self._cursor_key()
        if key is None:
            return
        from cxdesk.screens.ticket import TicketScreen
        from cxdesk.workflow.basics.refs import parse_ref

        self.app.push_screen(TicketScreen(self.desk, parse_ref(key)))

    def on_ticket_table_selected(self, event: TicketTable.Selected) -> None:
        event.stop()
        self.action_open()

    def on_screen_resume(self) -> None:
        """Back from another screen, reload: the ticket may have changed while it was open.
        The resume that comes with the queue's first showing finds `on_mount`'s load under
        way, and leaves it be rather than fetch the first page twice."""
        if self.current is not None:
            self.load()
