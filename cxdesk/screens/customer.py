"""One customer's story on `u` from a ticket (or `customer:ID` in the queue's filter): tier and
contact, their NPS and CSAT over time, every ticket with its outcome, every feedback event.

What is listed is what the viewer may see (`reads.customers`): another team's tickets and the
feedback tied to them are left out, contact is masked without the `pii` permission."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from cxdesk.i18n import N_, Translator
from cxdesk.screens.charts import Line, LineChart, Scale
from cxdesk.screens.context import Desk
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.format import PRIORITY_STYLE, block, local_time, plain
from cxdesk.screens.live import DataChanged, LoadFailed
from cxdesk.screens.loads import Answer, Loads
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.workflow.reads.customers import CustomerView, FeedbackItem, read_customer

NPS_SCALE = Scale(0, 10, min_span=4)  # the left axis
CSAT_SCALE = Scale(1, 5, min_span=2)  # the right one
NPS_COLOR, CSAT_COLOR = "text-primary", "text-success"
OUTCOME_STYLE = {"verified": "green", "unverified": "yellow", "failed": "bold red", "merged": "dim"}
TICKET_COLUMNS = (N_("ticket"), N_("pri"), N_("queue"), N_("outcome"), N_("opened"), N_("title"))
DAY = timedelta(days=1)
SHORT_BELOW = 30  # screen rows: a shorter chart, the tickets in the first screenful


class CustomerScreen(Screen[None]):
    CSS_PATH = "customer.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="customer.back"),
        Binding("r", "reload", N_("Refresh"), id="customer.refresh"),
    ]

    class Loaded(Answer):
        def __init__(self, number: int, view: CustomerView) -> None:
            super().__init__(number)
            self.view = view

    def __init__(self, desk: Desk, customer_id: str) -> None:
        super().__init__()
        self.desk = desk
        self.customer_id = customer_id
        self.view: CustomerView | None = None
        self.loads = Loads()
        self.t = desk.t
        localize_bindings(self, self.t)

    def compose(self) -> ComposeResult:
        loading = self.t("{customer} · loading…", customer=self.customer_id)
        yield Static(plain(loading), id="customer-header")
        with VerticalScroll(id="customer-body"):
            with Vertical(id="history"):
                yield Static(id="history-legend")
                yield LineChart(
                    NPS_SCALE, CSAT_SCALE, empty=self.t("no scores yet"), id="history-chart"
                )
            yield Static(id="customer-tickets", classes="section")
            yield Static(id="customer-feedback", classes="section")
        yield DeskFooter()

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_BELOW, "-short")

    def on_mount(self) -> None:
        self.query_one("#history").border_title = self.t("NPS and CSAT")
        self.query_one("#customer-body").focus()
        self.load()

    def load(self) -> None:
        self._load(self.loads.start())

    @work(thread=True, exclusive=True, group="customer-load", exit_on_error=False)
    def _load(self, number: int) -> None:
        try:
            view = read_customer(self.desk.db, self.customer_id, self.desk.viewer)
        except Exception as exc:  # shown to the user; the screen stays, escape leaves
            self.post_message(LoadFailed(self.t.error(exc)))
            return
        self.post_message(self.Loaded(number, view))

    def action_reload(self) -> None:
        self.load()

    def on_data_changed(self, _message: DataChanged) -> None:
        if self.app.screen is self:
            self.load()

    def on_customer_screen_loaded(self, message: CustomerScreen.Loaded) -> None:
        if not self.loads.shows(message):
            return
        self.view = message.view
        self._show_header()
        self._show_history()
        self._show_tickets()
        self._show_feedback()

    def _show_header(self) -> None:
        view, t = self.view, self.t
        assert view is not None
        line = Text.assemble(
            plain(view.id, "bold"),
            "  ",
            plain(view.name or "—", "bold"),
            "  ",
            plain(t("tier {tier}", tier=view.tier or "—")),
        )
        line.append("\n")
        line.append(plain(t("phone {phone}", phone=view.phone or "—")))
        line.append("  ")
        line.append(plain(t("email {email}", email=view.email or "—")))
        self.query_one("#customer-header", Static).update(line)

    def _show_history(self) -> None:
        """NPS (0–10, left axis) and CSAT (1–5, right axis) of each answer, over days."""
        assert self.view is not None
        oldest_first = reversed(self.view.feedback)
        scored = [f for f in oldest_first if f.nps is not None or f.csat is not None]
        legend = Content.assemble(
            (f"━ {self.t('NPS (0–10, left)')}", f"${NPS_COLOR}"),
            "   ",
            (f"━ {self.t('CSAT (1–5, right)')}", f"${CSAT_COLOR}"),
        )
        self.query_one("#history-legend", Static).update(legend)
        chart = self.query_one("#history-chart", LineChart)
        if not scored:
            chart.show([], str)
            return
        start = scored[0].occurred_at

        def day(item: FeedbackItem) -> float:
            return (item.occurred_at - start) / DAY

        zone = ZoneInfo(self.desk.settings.timezone)

        def date(x: float) -> str:
            return (start + x * DAY).astimezone(zone).strftime("%Y-%m-%d")

        nps = tuple((day(f), float(f.nps)) for f in scored if f.nps is not None)
        csat = tuple((day(f), float(f.csat)) for f in scored if f.csat is not None)
        chart.show([Line(nps, NPS_COLOR), Line(csat, CSAT_COLOR, right=True)], date)

    def _show_tickets(self) -> None:
        view, t = self.view, self.t
        assert view is not None
        box = self.query_one("#customer-tickets", Static)
        box.border_title = t(
            "Tickets ({count})", count=_count(t, len(view.tickets), view.tickets_total)
        )
        table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
        for name in TICKET_COLUMNS:
            grows = name == "title"
            table.add_column(t(name), no_wrap=True, overflow="ellipsis", ratio=1 if grows else None)
        tz = self.desk.settings.timezone
        for ticket in view.tickets:
            outcome = plain(ticket.outcome, OUTCOME_STYLE.get(ticket.outcome, "bold"))
            if ticket.reopen_count:
                outcome.append(" " + t("reopened {count}×", count=ticket.reopen_count), "yellow")
            table.add_row(
                plain(ticket.id),
                plain(ticket.priority, PRIORITY_STYLE.get(ticket.priority, "")),
                plain(ticket.queue),
                outcome,
                plain(local_time(ticket.opened_at, tz)),
                plain(ticket.title),
            )
        if not view.tickets:
            table.add_row(Text(t("none in your queues"), style="dim"))
        box.update(table)

    def _show_feedback(self) -> None:
        """Newest first: when, what, where (channel · touchpoint), the scores, the ticket it
        raised; the customer's words below, as text, never markup."""
        view, t = self.view, self.t
        assert view is not None
        box = self.query_one("#customer-feedback", Static)
        box.border_title = t(
            "Feedback ({count})", count=_count(t, len(view.feedback), view.feedback_total)
        )
        tz = self.desk.settings.timezone
        text = Text()
        for item in view.feedback:
            if text:
                text.append("\n\n")
            text.append(f"{local_time(item.occurred_at, tz)}  ", style="dim")
            text.append(plain(item.kind, "bold"))
            where = " · ".join(v for v in (item.channel, item.touchpoint) if v)
            if where:
                text.append("  ")
                text.append(plain(where))
            text.append(_scores(item))
            if item.ticket:
                text.append("  ")
                text.append(plain(item.ticket, "cyan"))
            if item.comment:
                text.append("\n")
                text.append(block(item.comment))
        box.update(text or Text(t("none"), style="dim"))


def _scores(item: FeedbackItem) -> Text:
    scores = Text()
    for name, value in (("NPS", item.nps), ("CSAT", item.csat), ("CES", item.ces)):
        if value is not None:
            scores.append(f"  {name} {value}", style="bold")
    return scores


def _count(t: Translator, shown: int, total: int) -> str:
    """`12`, or `the newest 500 of 20,000` when there are more than are shown."""
    if total > shown:
        return t("the newest {shown} of {total}", shown=f"{shown:,}", total=f"{total:,}")
    return str(shown)
