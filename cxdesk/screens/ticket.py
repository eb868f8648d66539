"""One ticket: header with SLA clocks (`t` explains them, `sla_panel`), the customer, links,
resolution, and the timeline.

The screen also asks for and runs the desk's commands, their forms rendered from the commands'
declared inputs (`loop.desk_commands`)."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from cxdesk.errors import CxdeskError
from cxdesk.i18n import N_
from cxdesk.screens.command_forms import FORMS_FROM_THE_DATABASE, command_fields
from cxdesk.screens.context import Desk
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.format import PRIORITY_STYLE, block, local_time, plain, sla_cell
from cxdesk.screens.forms import Field, FormScreen
from cxdesk.screens.live import DataChanged, LoadFailed
from cxdesk.screens.loads import Answer, Loads
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.screens.sla_panel import SlaPanel
from cxdesk.screens.ticket_panels import customer_panel, resolution_panel
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.desk_commands import (
    BY_NAME,
    DESK_COMMANDS,
    ApplyProblemResolution,
    command_from_values,
)
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.loop.stages import allowed_commands
from cxdesk.workflow.reads.detail import TicketDetail, read_ticket_detail
from cxdesk.workflow.reads.templates import read_template_text
from cxdesk.workflow.reads.tickets import TicketRow

ACTIONS = (  # key, command, label: also in the command palette and the footer
    ("c", "claim", N_("Claim")),
    ("a", "assign", N_("Assign")),
    ("p", "respond", N_("Respond")),
    ("n", "note", N_("Note")),
    ("w", "pend", N_("Pend/resume")),
    ("z", "analyze", N_("Analyze")),
    ("x", "resolve", N_("Resolve")),
    ("e", "escalate", N_("Escalate")),
    ("o", "reopen", N_("Reopen")),
    ("l", "link", N_("Link problem")),
    ("y", "apply", N_("Apply to cases")),  # a resolved problem's resolution, to its cases
)
COMMAND_TITLES = {c.NAME: c.TITLE for c in DESK_COMMANDS}

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
        Binding("escape", "app.pop_screen", N_("Back"), id="ticket.back"),
        Binding("r", "reload", N_("Refresh"), id="ticket.refresh"),
        Binding("t", "sla", N_("SLA clocks"), id="ticket.sla"),
        *(
            Binding(key, f"act('{command}')", label, id=f"ticket.{command}")
            for key, command, label in ACTIONS
        ),
        Binding("u", "customer", N_("Customer"), id="ticket.customer"),
    ]

    class Loaded(Answer):
        def __init__(self, number: int, detail: TicketDetail) -> None:
            super().__init__(number)
            self.detail = detail

    class Acted(Message):
        def __init__(self, text: str, ok: bool) -> None:
            super().__init__()
            self.text = text
            self.ok = ok

    class FormReady(Message):
        """A command's form, its choices read off the event loop, ready to show."""

        def __init__(self, command: str, row: TicketRow, fields: list[Field]) -> None:
            super().__init__()
            self.command = command
            self.row = row
            self.fields = fields

    def __init__(self, desk: Desk, ticket_id: int) -> None:
        super().__init__()
        self.desk = desk
        self.ticket_id = ticket_id
        self.detail: TicketDetail | None = None
        self._entries_shown = 0
        self.loads = Loads()
        self.t = desk.t
        localize_bindings(self, self.t)

    def compose(self) -> ComposeResult:
        loading = self.t("{ticket} · loading…", ticket=ticket_ref(self.ticket_id))
        yield Static(Text(loading), id="ticket-header")
        with Horizontal(id="ticket-body"):
            with VerticalScroll(id="timeline-box") as timeline:
                timeline.border_title = self.t("Timeline")
                yield Static(id="timeline")
            with VerticalScroll(id="side"):
                yield Static(id="customer")
                yield Static(id="resolution")
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#customer").border_title = self.t("Customer")
        self.query_one("#resolution").border_title = self.t("Resolution")
        timeline = self.query_one("#timeline-box")
        # Kept at its end as it is laid out, so the latest entry shows with the first frame,
        # until the user scrolls back to read.
        timeline.anchor()
        timeline.focus()
        self.load()
        self.set_interval(1.0, self._show_header)

    def load(self) -> None:
        self._load(self.loads.start())

    @work(thread=True, exclusive=True, group="ticket-load", exit_on_error=False)
    def _load(self, number: int) -> None:
        try:
            detail = read_ticket_detail(self.desk.db, self.ticket_id, self.desk.viewer)
        except Exception as exc:
            self.post_message(LoadFailed(self.t.error(exc)))
            return
        self.post_message(self.Loaded(number, detail))

    def on_ticket_screen_loaded(self, message: TicketScreen.Loaded) -> None:
        if not self.loads.shows(message):
            return
        self.detail = message.detail
        self.refresh_bindings()
        self._show_header()
        self.query_one("#customer", Static).update(customer_panel(message.detail, self.t))
        self.query_one("#resolution", Static).update(resolution_panel(message.detail, self.t))
        self._show_timeline()

    def action_reload(self) -> None:
        self.load()

    def action_sla(self) -> None:
        self.app.push_screen(SlaPanel(self.desk, self.ticket_id))

    def action_customer(self) -> None:
        """The customer's whole story: every ticket, every answer."""
        if self.detail is None:  # still loading
            return
        customer = self.detail.customer
        if customer is None:
            self.notify(self.t("no customer (problem ticket)"), markup=False)
            return
        from cxdesk.screens.customer import CustomerScreen

        self.app.push_screen(CustomerScreen(self.desk, customer.id))

    def on_data_changed(self, _message: DataChanged) -> None:
        """Changes made elsewhere (another agent, the CLI, the sweep) show up by themselves."""
        if self.app.screen is self:
            self.load()

    def on_screen_resume(self) -> None:
        """Back on top after a form, the help or the palette: what changed meanwhile was told
        to the screen on top, not to this one, so read the ticket again."""
        if self.detail is not None:  # not the first showing: on_mount loads that
            self.load()

    # -- actions -------------------------------------------------------------------------

    def _command_for(self, command: str) -> str:
        pending = self.detail is not None and self.detail.row.stage == "pending"
        return "resume" if command == "pend" and pending else command

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Actions the role, the team or the stage do not allow are shown disabled, not refused
        after the fact."""
        if action != "act":
            return True
        detail = self.detail
        if detail is None:
            return None
        command = self._command_for(str(parameters[0]))
        if command == "apply" and detail.row.kind != "problem":
            return False  # a case has no cases: not even shown
        viewer = self.desk.viewer
        queue = self.desk.clocks.queues.get(detail.row.queue)  # None: a queue that is gone
        if queue is None or (command == "claim" and detail.row.assignee is not None):
            return None
        team = queue.team_id
        allowed = (
            command in allowed_commands(detail.row.stage)
            and viewer.may(command)
            and viewer.in_scope(team)
        )
        return True if allowed else None

    def action_act(self, command: str) -> None:
        command = self._command_for(command)
        if self.detail is None or not self.check_action("act", (command,)):
            return
        row = self.detail.row  # the version the agent acts on: as shown when the key was hit
        if command == "apply":
            self.apply_to_cases(row)
            return
        if command in FORMS_FROM_THE_DATABASE:  # their choices are read by a worker
            self.prepare_form(command, row)
            return
        self._ask(command, row, self._form(command, row))

    def _ask(self, command: str, row: TicketRow, fields: list[Field]) -> None:
        """Run the command at once, or after its form is filled in."""
        if not fields:
            self.run_command(command, row, {})
            return
        title = self.t("{action} {ticket}", action=self.t(COMMAND_TITLES[command]), ticket=row.id)

        def submitted(values: dict[str, str] | None) -> None:
            if values is not None:
                self.run_command(command, row, values)

        self.app.push_screen(FormScreen(title, fields, self.t), submitted)

    @work(thread=True, exclusive=True, group="ticket-form", exit_on_error=False)
    def prepare_form(self, command: str, row: TicketRow) -> None:
        try:
            fields = self._form(command, row)
        except Exception as exc:  # shown to the user, the screen stays usable
            failed = self.t("could not open the form: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(self.FormReady(command, row, fields))

    def on_ticket_screen_form_ready(self, message: TicketScreen.FormReady) -> None:
        if self.app.screen is self:  # not if the agent left, or another key opened a form first
            self._ask(message.command, message.row, message.fields)

    def _form(self, command: str, row: TicketRow) -> list[Field]:
        """Those of FORMS_FROM_THE_DATABASE read it: built by a worker, never on the loop."""
        current = self.detail.resolution if self.detail else None
        return command_fields(self.desk, command, [row], current)

    @work(thread=True, exclusive=True, group="ticket-action", exit_on_error=False)
    def run_command(self, command: str, row: TicketRow, values: dict[str, str]) -> None:
        service = TicketService(self.desk.db, self.desk.settings, self.desk.actor)
        number, version, at = row.number, row.version, self.desk.clock()
        action = self.t(COMMAND_TITLES.get(command, command))
        fill = partial(read_template_text, self.desk.db, ticket_id=number, actor=self.desk.actor)
        try:
            service.handle(
                command_from_values(
                    BY_NAME[command], number, values, version=version, at=at, fill_template=fill
                )
            )
        except CxdeskError as exc:
            self.post_message(self.Acted(self.t.error(exc), ok=False))
            return
        except Exception as exc:  # never silent: what was typed did not reach the ticket
            failed = self.t(
                "{ticket}: {action} failed: {error}",
                ticket=row.id,
                action=action,
                error=self.t.error(exc),
            )
            self.post_message(self.Acted(failed, ok=False))
            return
        done = self.t("{ticket}: {action} done", ticket=row.id, action=action)
        self.post_message(self.Acted(done, ok=True))

    @work(thread=True, exclusive=True, group="ticket-action", exit_on_error=False)
    def apply_to_cases(self, row: TicketRow) -> None:
        """The problem's resolution to each linked open case; what happened to each, said."""
        service = TicketService(self.desk.db, self.desk.settings, self.desk.actor)
        command = ApplyProblemResolution(row.number, version=row.version, at=self.desk.clock())
        try:
            applied = service.handle(command)
        except CxdeskError as exc:
            self.post_message(self.Acted(self.t.error(exc), ok=False))
            return
        lines = [
            self.t("{ticket}: {case} {outcome}", ticket=row.id, case=c.case, outcome=c.outcome)
            + (f" — {c.reason}" if c.reason else "")
            for c in applied.cases
        ]
        self.post_message(self.Acted("\n".join(lines) or self.t("no linked cases"), ok=True))

    def on_ticket_screen_acted(self, message: TicketScreen.Acted) -> None:
        self.notify(message.text, severity="information" if message.ok else "error", markup=False)
        self.load()

    def _show_header(self) -> None:
        detail = self.detail
        if detail is None:
            return
        row = detail.row
        tz = self.desk.settings.timezone
        t = self.t
        reading = self.desk.reading(row, self.desk.clock())
        line = Text.assemble(
            plain(row.id, "bold"),
            "  ",
            plain(row.priority, PRIORITY_STYLE.get(row.priority, "")),
            "  ",
            plain(row.stage.upper(), "bold"),
            "  ",
            plain(t("{kind} in {queue}", kind=row.kind, queue=row.queue)),
            "  SLA ",
            sla_cell(reading, t),
            "  ",
            plain(
                t(
                    "assignee {assignee}  escalation {level}",
                    assignee=row.assignee or "—",
                    level=row.escalation_level,
                )
            ),
        )
        line.append("\n")
        line.append(plain(row.title))
        times = "  ".join(
            (
                t("opened {time}", time=local_time(row.opened_at, tz)),
                t(
                    "first response due {due} (answered {at})",
                    due=local_time(row.first_response_due, tz),
                    at=local_time(detail.first_response_at, tz),
                ),
                t("resolution due {due}", due=local_time(row.resolution_due, tz)),
            )
        )
        line.append("\n" + times, style="dim")
        self.query_one("#ticket-header", Static).update(line)

    def _show_timeline(self) -> None:
        assert self.detail is not None
        tz = self.desk.settings.timezone
        text = Text()
        for item in self.detail.timeline:
            text.append(f"{local_time(item.at, tz)}  ", style="dim")
            text.append(plain(f"{item.kind:<10} ", TIMELINE_STYLE.get(item.kind, "")))
            text.append(plain(item.actor, "italic"))
            text.append("\n")
            body = self.t.said(item.said) or item.body  # system text in the desk's language
            text.append(block(body))  # customer and agent text: never markup
            text.append("\n\n")
        self.query_one("#timeline", Static).update(text)
        if len(self.detail.timeline) != self._entries_shown:
            # Something new: shown even to a reader who had scrolled back (at the end, the box
            # is anchored again).
            self._entries_shown = len(self.detail.timeline)
            self.call_after_refresh(self.query_one("#timeline-box").scroll_end, animate=False)
