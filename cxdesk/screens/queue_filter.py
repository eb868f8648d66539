"""The queue's filter box: `/` opens it, `enter` applies what is typed (a `customer:ID` term
also opens that customer's screen), `esc` clears it, `ctrl+s` saves it as a view of one's own.
"""

from __future__ import annotations

from textual import events
from textual.screen import Screen
from textual.widgets import Input

from cxdesk.errors import CxdeskError
from cxdesk.i18n import Translator
from cxdesk.screens.context import Desk
from cxdesk.screens.ticket_table import TicketTable
from cxdesk.workflow.reads.search import Search


class FilterBox(Screen[None]):
    """The filter box of the queue screen, which composes it (`filter_box`) and loads what
    it chose (`reload_from_top`)."""

    desk: Desk
    t: Translator
    search: Search | None
    focus_table_when_shown: bool

    def reload_from_top(self) -> None:
        raise NotImplementedError

    def leave_saved_view(self) -> None:
        raise NotImplementedError

    def ask_view_name(self, filter_text: str) -> None:
        raise NotImplementedError

    def filter_box(self) -> Input:
        search = Input(
            placeholder=self.t(
                "filter: words (any language), priority:P1 queue:vip stage:new assignee:login "
                "customer:ID (opens the customer too) — enter applies, esc clears"
            ),
            id="search",
        )
        search.display = False
        return search

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        # Focused at once: what is typed right after the `/` goes into the box, however soon
        # (the `/` itself was this binding's, and is not typed into it).
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.leave_saved_view()
        try:
            self.search = Search.parse(event.value) if event.value.strip() else None
        except CxdeskError as exc:
            self.notify(self.t.error(exc), severity="error", markup=False)
            return
        self.reload_from_top()
        # The table takes the focus back once the filtered page is on screen: moving focus
        # restyles the screen and its footer, tens of milliseconds better spent after.
        self.focus_table_when_shown = True
        customers = [v for k, v in self.search.terms if k == "customer"] if self.search else []
        if len(customers) == 1:  # their story on top; escape shows their tickets in the queue
            from cxdesk.screens.customer import CustomerScreen

            self.app.push_screen(CustomerScreen(self.desk, customers[0]))

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#search", Input)
        if event.key == "ctrl+s" and box.has_focus:
            event.stop()
            self.ask_view_name(box.value)
        if event.key == "escape" and box.has_focus:
            event.stop()
            self.leave_saved_view()
            box.value, box.display, self.search = "", False, None
            self.query_one("#tickets", TicketTable).focus()
            self.reload_from_top()
