"""Saved views in the queue: the team's (config) and my own (saved with `/` then `ctrl+s`),
after the built-in views on keys 8 and 9, and every one of them in the palette.

A saved view is a filter, an order and columns over the `All` view; choosing a built-in
view leaves it, with its filter and order.
"""

from __future__ import annotations

from functools import partial

from textual import work
from textual.screen import Screen

from cxdesk.i18n import N_, Translator
from cxdesk.screens.commands import Command
from cxdesk.screens.context import Desk
from cxdesk.screens.live import LoadFailed
from cxdesk.screens.loads import Answer, Loads
from cxdesk.screens.queue_rows import COLUMN_WIDTHS, COLUMNS, CONFIG_COLUMNS, row_cells
from cxdesk.screens.ticket_table import Column, TicketTable
from cxdesk.workflow.reads.search import Search
from cxdesk.workflow.reads.tickets import Sort, TicketRow, View
from cxdesk.workflow.reads.views import QueueView, read_views, save_view

VIEW_KEYS = ("8", "9")  # the saved views with a key of their own; the rest are in the palette


class ViewsLoaded(Answer):
    def __init__(self, number: int, views: list[QueueView], show: str | None = None) -> None:
        super().__init__(number)
        self.views = views
        self.show = show  # the name of a view to switch to once loaded (one just saved)


class SavedViews(Screen[None]):
    """The queue's saved views; the queue screen binds the keys and calls `load_views`."""

    desk: Desk
    t: Translator
    search: Search | None
    sort: Sort | None
    view: View

    def __init__(self) -> None:
        super().__init__()
        self.views: list[QueueView] = []
        self.view_loads = Loads()
        self.saved: QueueView | None = None  # the saved view on screen, if any
        self.columns: tuple[str, ...] = COLUMNS

    def page_rows(self) -> list[TicketRow]:
        raise NotImplementedError

    def reload_from_top(self) -> None:
        raise NotImplementedError

    def load_views(self, show: str | None = None) -> None:
        self._load_views(self.view_loads.start(), show)

    @work(thread=True, exclusive=True, group="queue-views", exit_on_error=False)
    def _load_views(self, number: int, show: str | None) -> None:
        desk = self.desk
        try:
            views = read_views(desk.db, desk.settings, desk.actor)
        except Exception as exc:  # shown to the user; the built-in views still work
            failed = self.t("could not load the saved views: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(ViewsLoaded(number, views, show))

    def on_views_loaded(self, message: ViewsLoaded) -> None:
        if not self.view_loads.shows(message):
            return
        self.views = message.views
        self.refresh_bindings()
        chosen = next((i for i, v in enumerate(self.views) if v.name == message.show), None)
        if chosen is not None:
            self.action_saved_view(chosen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "saved_view":
            index = parameters[0]
            return isinstance(index, int) and index < len(self.views)
        return True

    def action_saved_view(self, index: int) -> None:
        if index >= len(self.views):
            return
        view = self.saved = self.views[index]
        self.search, self.sort = view.search, view.sort
        wanted = [CONFIG_COLUMNS[c] for c in view.columns] if view.columns else COLUMNS
        self._show_columns(tuple(key for key in COLUMNS if key in wanted))
        if self.view == View.ALL:
            self.reload_from_top()
        else:
            self.view = View.ALL  # its watcher loads

    def leave_saved_view(self) -> None:
        """Back to a built-in view: the saved view's filter, order and columns go with it."""
        if self.saved is None:
            return
        self.saved = None
        self.search = self.sort = None
        self._show_columns(COLUMNS)

    def _show_columns(self, columns: tuple[str, ...]) -> None:
        if columns == self.columns:
            return
        self.columns = columns
        now = self.desk.clock()
        self.query_one(TicketTable).set_columns(
            [Column(key, self.t(key), *COLUMN_WIDTHS[key], grow=key == "Title") for key in columns],
            [(row.id, row_cells(self.desk, row, now, columns)) for row in self.page_rows()],
        )

    def ask_view_name(self, filter_text: str) -> None:
        """`ctrl+s` in the filter box: save what is typed there as a view of my own."""
        if not filter_text.strip():
            self.notify(self.t("type a filter first, then ctrl+s saves it"), severity="warning")
            return
        from cxdesk.screens.forms import Field, FormScreen  # a form's first use, not the queue's

        title = self.t("Save the filter as a view: {words}", words=" ".join(filter_text.split()))
        fields = [Field("name", N_("View name"))]

        def named(values: dict[str, str] | None) -> None:
            if values is not None:
                self.save_own_view(values["name"], filter_text, self.sort)

        self.app.push_screen(FormScreen(title, fields, self.t), named)

    @work(thread=True, group="queue-views-save", exit_on_error=False)
    def save_own_view(self, name: str, filter_text: str, sort: Sort | None) -> None:
        desk = self.desk
        try:
            view = save_view(desk.db, desk.actor, name, filter_text, sort, desk.clock())
        except Exception as exc:
            failed = self.t("could not save the view: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.load_views(show=view.name)

    def palette_commands(self) -> list[Command]:
        """Every saved view, by name, for the command palette (those past 9 have no key)."""
        t = self.t
        commands = []
        for index, view in enumerate(self.views):
            key = VIEW_KEYS[index] if index < len(VIEW_KEYS) else ""
            commands.append(
                Command(
                    title=t("View: {name}", name=view.title),
                    help=t("key {key}", key=key) if key else t("saved view"),
                    run=partial(self.action_saved_view, index),
                    english=f"View: {view.title}",
                )
            )
        return commands
