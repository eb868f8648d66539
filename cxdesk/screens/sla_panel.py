"""The SLA panel over a ticket (key `t`): each clock's target, calendar and due time, and every
stretch from its start, counted or not and why, with the running total of working time."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from cxdesk.i18n import N_
from cxdesk.screens.context import Desk
from cxdesk.screens.format import local_time, plain
from cxdesk.screens.live import LoadFailed
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.clocks.explain import ClockExplanation, SlaExplanation
from cxdesk.workflow.clocks.stretches import IntervalKind, working_time
from cxdesk.workflow.reads.sla import read_ticket_sla

CLOCK_TITLES = {
    "first_response": N_("First response clock"),
    "resolution": N_("Resolution clock"),
}
KIND_LABELS = {
    IntervalKind.COUNTED: N_("counted"),
    IntervalKind.OUTSIDE_HOURS: N_("outside hours"),
    IntervalKind.WEEKEND: N_("weekend"),
    IntervalKind.HOLIDAY: N_("public holiday"),
    IntervalKind.MAKEUP: N_("make-up workday"),
    IntervalKind.PAUSED: N_("paused"),
    IntervalKind.RESTARTED: N_("restarted"),
    IntervalKind.NOT_ITEMISED: N_("not itemised"),
}
KIND_STYLE = {
    IntervalKind.COUNTED: "green",
    IntervalKind.MAKEUP: "green",
    IntervalKind.PAUSED: "yellow",
    IntervalKind.RESTARTED: "bold cyan",
}
STATE_LABELS = {
    "running": N_("running"),
    "at_risk": N_("at risk"),
    "breached": N_("breached"),
    "paused": N_("paused"),
    "met": N_("met"),
    "missed": N_("missed"),
    "stopped": N_("stopped"),
}
MARK_LABELS = {
    "at_risk": N_("at risk"),
    "due": N_("due"),
    "breached": N_("breached"),
    "risk_noted": N_("risk noted"),
    "escalated": N_("escalated"),
}
COLUMNS = (N_("from"), N_("to"), N_("kind"), N_("counted"), N_("total"), N_("note"))


class SlaPanel(ModalScreen[None]):
    CSS_PATH = "sla_panel.tcss"
    BINDINGS = [Binding("escape,t", "close", N_("Close"), id="sla.close")]

    class Loaded(Message):
        def __init__(self, explanation: SlaExplanation) -> None:
            super().__init__()
            self.explanation = explanation

    def __init__(self, desk: Desk, ticket_id: int) -> None:
        super().__init__()
        self.desk = desk
        self.ticket_id = ticket_id
        self.t = desk.t
        localize_bindings(self, self.t)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="sla-box") as box:
            box.border_title = self.t("SLA clocks — {ticket}", ticket=ticket_ref(self.ticket_id))
            box.border_subtitle = self.t("escape to close")
            yield Static(Text(self.t("loading…"), style="dim"), id="sla-body")

    def on_mount(self) -> None:
        self.query_one("#sla-box").focus()
        self.load()

    @work(thread=True, exclusive=True, group="sla-load", exit_on_error=False)
    def load(self) -> None:
        desk = self.desk
        try:
            explanation = read_ticket_sla(
                desk.db, desk.settings, self.ticket_id, desk.viewer, desk.clock()
            )
        except Exception as exc:  # told, and shown in the panel in place of the clocks
            error = self.t.error(exc)
            self.app.call_from_thread(self.query_one("#sla-body", Static).update, plain(error))
            self.post_message(LoadFailed(error))
            return
        self.post_message(self.Loaded(explanation))

    def on_sla_panel_loaded(self, message: SlaPanel.Loaded) -> None:
        clocks = [self._clock(clock) for clock in message.explanation.clocks]
        self.query_one("#sla-body", Static).update(Group(*clocks))

    def action_close(self) -> None:
        self.dismiss(None)

    def _clock(self, clock: ClockExplanation) -> Group:
        t, tz = self.t, self.desk.settings.timezone
        heading = Text.assemble(
            (t(CLOCK_TITLES[clock.clock]), "bold"),
            "  ",
            plain(
                t(
                    "{priority} · policy {policy} · calendar {calendar} · target {target}",
                    priority=clock.priority,
                    policy=clock.policy,
                    calendar=clock.calendar,
                    target=working_time(clock.target),
                )
            ),
        )
        summary = plain(
            t(
                "{state} · counted {counted} · given back {given} · at risk {risk} · due {due}",
                state=t(STATE_LABELS.get(clock.state, clock.state)),
                counted=working_time(clock.counted),
                given=working_time(clock.given_back),
                risk=local_time(clock.at_risk_at, tz),
                due=local_time(clock.due, tz),
            ),
            "dim",
        )
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in COLUMNS:
            table.add_column(t(column), no_wrap=column != "note")
        for i in clock.intervals:
            style = "dim italic" if i.ahead else KIND_STYLE.get(i.kind, "")
            table.add_row(
                plain(local_time(i.start, tz), style),
                plain(local_time(i.end, tz), style),
                plain(t(KIND_LABELS[i.kind]), style),
                plain(working_time(i.counted), style),
                plain(working_time(i.total), style),
                plain(i.note, style),
            )
        parts: list[Text | Table] = [heading, summary]
        if not clock.agrees:
            replayed = local_time(clock.replayed_due, tz)
            parts.append(plain(t("its history replayed gives due {due}", due=replayed), "yellow"))
        parts.append(table)
        for mark in clock.marks:
            label = t(MARK_LABELS.get(mark.kind, mark.kind))
            note = t.said(mark.said) or mark.note  # the sweep's text in the desk's language
            parts.append(plain(f"{local_time(mark.at, tz)}  {label}  {note}", "bold"))
        parts.append(Text(""))
        return Group(*parts)
