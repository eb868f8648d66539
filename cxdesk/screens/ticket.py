"""One ticket: header with SLA clocks, the customer, links, resolution, and the timeline."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from cxdesk.screens.context import Desk
from cxdesk.screens.format import PRIORITY_STYLE, local_time, plain, sla_cell
from cxdesk.workflow.queries import TicketDetail, ticket_detail
from cxdesk.workflow.refs import ticket_ref

TIMELINE_STYLE = {
    "alert": "bold magenta",
    "response": "green",
    "note": "",
    "transition": "cyan",
    "assignment": "blue",
    "escalation": "bold red",
    "followup": "bold green",
    "link": "cyan",
}


class TicketScreen(Screen[None]):
    CSS_PATH = "ticket.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="ticket.back"),
        Binding("r", "reload", "Refresh", id="ticket.refresh"),
    ]

    class Loaded(Message):
        def __init__(self, detail: TicketDetail) -> None:
            super().__init__()
            self.detail = detail

    class LoadFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, desk: Desk, ticket_id: int) -> None:
        super().__init__()
        self.desk = desk
        self.ticket_id = ticket_id
        self.detail: TicketDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(f"{ticket_ref(self.ticket_id)} · loading…"), id="ticket-header")
        with Horizontal(id="ticket-body"):
            with VerticalScroll(id="timeline-box") as timeline:
                timeline.border_title = "Timeline"
                yield Static(id="timeline")
            with VerticalScroll(id="side"):
                yield Static(id="customer")
                yield Static(id="resolution")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#customer").border_title = "Customer"
        self.query_one("#resolution").border_title = "Resolution"
        self.query_one("#timeline-box").focus()
        self.load()
        self.set_interval(1.0, self._show_header)

    @work(thread=True, exclusive=True, group="ticket-load", exit_on_error=False)
    def load(self) -> None:
        try:
            with self.desk.db.session() as session:
                detail = ticket_detail(session, self.ticket_id, self.desk.viewer)
        except Exception as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        self.post_message(self.Loaded(detail))

    def on_ticket_screen_load_failed(self, message: TicketScreen.LoadFailed) -> None:
        self.notify(message.error, severity="error", markup=False)

    def on_ticket_screen_loaded(self, message: TicketScreen.Loaded) -> None:
        self.detail = message.detail
        self._show_header()
        self._show_customer()
        self._show_resolution()
        self._show_timeline()

    def action_reload(self) -> None:
        self.load()

    def _show_header(self) -> None:
        detail = self.detail
        if detail is None:
            return
        row = detail.row
        tz = self.desk.settings.timezone
        reading = self.desk.reading(row, self.desk.clock())
        line = Text.assemble(
            (row.id, "bold"),
            "  ",
            (row.priority, PRIORITY_STYLE.get(row.priority, "")),
            "  ",
            (row.stage.upper(), "bold"),
            f"  {row.kind} in {row.queue}  ",
            "SLA ",
            sla_cell(reading),
            "  ",
            f"assignee {row.assignee or '—'}  escalation {row.escalation_level}",
        )
        line.append("\n")
        line.append(plain(row.title))
        line.append(
            f"\nopened {local_time(row.opened_at, tz)}  "
            f"first response due {local_time(row.first_response_due, tz)}"
            f" (answered {local_time(detail.first_response_at, tz)})  "
            f"resolution due {local_time(row.resolution_due, tz)}",
            style="dim",
        )
        self.query_one("#ticket-header", Static).update(line)

    def _show_customer(self) -> None:
        assert self.detail is not None
        customer = self.detail.customer
        widget = self.query_one("#customer", Static)
        if customer is None:
            widget.update(Text("no customer (problem ticket)", style="dim"))
            return
        table = _field_table()
        for label, value in (
            ("id", customer.id),
            ("name", customer.name),
            ("tier", customer.tier),
            ("phone", customer.phone),
            ("email", customer.email),
            ("feedback", customer.feedback_count),
            ("tickets", customer.ticket_count),
        ):
            table.add_row(Text(label, style="dim"), plain(value or "—"))
        if self.detail.links:
            label = "cases" if self.detail.row.kind == "problem" else "problem"
            table.add_row(Text(label, style="dim"), plain(", ".join(self.detail.links)))
        widget.update(table)

    def _show_resolution(self) -> None:
        assert self.detail is not None
        detail = self.detail
        table = _field_table()
        for label, value in (
            *detail.resolution.items(),
            ("verify", detail.verify_outcome),
            ("reopened", detail.reopen_count or None),
        ):
            table.add_row(Text(label.replace("_", " "), style="dim"), plain(value or "—"))
        if detail.row.kind == "problem" and detail.links:
            table.add_row(Text("cases", style="dim"), plain(", ".join(detail.links)))
        self.query_one("#resolution", Static).update(table)

    def _show_timeline(self) -> None:
        assert self.detail is not None
        tz = self.desk.settings.timezone
        text = Text()
        for item in self.detail.timeline:
            text.append(f"{local_time(item.at, tz)}  ", style="dim")
            text.append(f"{item.kind:<10} ", style=TIMELINE_STYLE.get(item.kind, ""))
            text.append(f"{item.actor}\n", style="italic")
            text.append(Text(item.body))  # customer and agent text: never markup
            text.append("\n\n")
        self.query_one("#timeline", Static).update(text)


def _field_table() -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(no_wrap=True, width=12)
    table.add_column(ratio=1)
    return table
