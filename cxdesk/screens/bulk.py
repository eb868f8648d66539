"""Bulk work in the queue: `space` marks a row, `*` the page, `b` applies one command to every
marked ticket — each through the service with its own checks, at the version it was shown
at — and tells what was done and what was refused, and why, ticket by ticket.

The commands' declarations, the forms, the service and what fills them in are imported on the
first `b`: the queue screen this mixes into is the first frame, and waits for nothing it does
not show.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from cxdesk.i18n import Translator
from cxdesk.screens.context import Desk
from cxdesk.screens.format import plain
from cxdesk.screens.live import LoadFailed
from cxdesk.screens.ticket_table import TicketTable
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.reads.tickets import TicketRow

if TYPE_CHECKING:
    from cxdesk.screens.forms import Field
    from cxdesk.workflow.loop.commands import TicketCommand
    from cxdesk.workflow.loop.service import Outcome

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 72; max-width: 100%; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 0 1;
}}
{name} VerticalScroll {{ height: auto; max-height: 20; }}
"""


def declared(name: str) -> type[TicketCommand]:
    """The desk command called `name`, as declared: read once marks are acted on."""
    from cxdesk.workflow.loop.desk_commands import BY_NAME

    return BY_NAME[name]


class BulkFormReady(Message):
    def __init__(self, command: str, fields: list[Field]) -> None:
        super().__init__()
        self.command = command
        self.fields = fields


class BulkDone(Message):
    def __init__(self, command: str, outcomes: list[Outcome]) -> None:
        super().__init__()
        self.command = command
        self.outcomes = outcomes


class BulkPicker(ModalScreen[str | None]):
    """Which command to apply to the marked tickets."""

    DEFAULT_CSS = MODAL_CSS.format(name="BulkPicker")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, t: Translator, commands: list[str], count: int) -> None:
        super().__init__()
        self.t = t
        self.commands = commands
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.t("Apply to {count} marked tickets", count=self.count)
            box.border_subtitle = self.t("enter applies · esc cancels")
            yield OptionList(
                *(Option(self.t(declared(name).TITLE), id=name) for name in self.commands)
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class BulkResult(ModalScreen[None]):
    """What became of each marked ticket: how many done, and every refusal with its reason."""

    DEFAULT_CSS = MODAL_CSS.format(name="BulkResult")
    BINDINGS = [Binding("escape,enter", "dismiss(None)", "Close", show=False)]

    def __init__(self, t: Translator, command: str, outcomes: list[Outcome]) -> None:
        super().__init__()
        self.t = t
        self.command = command
        self.outcomes = outcomes

    def compose(self) -> ComposeResult:
        t = self.t
        refused = [o for o in self.outcomes if o.refused is not None]
        with Vertical() as box:
            box.border_title = t(
                "{action}: {done} done, {refused} refused",
                action=t(declared(self.command).TITLE),
                done=len(self.outcomes) - len(refused),
                refused=len(refused),
            )
            box.border_subtitle = t("escape to close")
            lines = Text()
            for outcome in refused:
                assert outcome.refused is not None
                lines.append_text(plain(ticket_ref(outcome.ticket_id), "bold"))
                lines.append("  ")
                lines.append_text(plain(t.error(outcome.refused)))
                lines.append("\n")
            lines.rstrip()
            with VerticalScroll():
                yield Static(lines if lines.plain else t("every ticket done"))


class BulkActions(Screen[None]):
    """The queue's marks and what is done to them; the queue screen binds the keys."""

    desk: Desk
    t: Translator

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[str, TicketRow] = {}  # by ticket reference, as shown when marked

    def page_rows(self) -> list[TicketRow]:
        raise NotImplementedError

    def marks_changed(self) -> None:
        """Redraw what shows the marks (the table's rows, the status line)."""
        raise NotImplementedError

    def action_mark(self) -> None:
        """Mark or unmark the row under the cursor, and move on to the next."""
        table = self.query_one(TicketTable)
        row = next((r for r in self.page_rows() if r.id == table.cursor_key), None)
        if row is None:
            return
        if self.marks.pop(row.id, None) is None:
            self.marks[row.id] = row
        self.marks_changed()
        table.action_move(1)

    def action_mark_page(self) -> None:
        """Mark every row of the page, or unmark them all if they already are."""
        rows = self.page_rows()
        if rows and all(r.id in self.marks for r in rows):
            for r in rows:
                del self.marks[r.id]
        else:
            self.marks.update((r.id, r) for r in rows)
        self.marks_changed()

    def action_bulk(self) -> None:
        t = self.t
        if not self.marks:
            self.notify(t("mark tickets with space first (* marks the page)"), severity="warning")
            return
        from cxdesk.workflow.loop.desk_commands import BULK_COMMANDS

        allowed = [c.NAME for c in BULK_COMMANDS if self.desk.viewer.may(c.NAME)]
        if not allowed:
            self.notify(t("your role gives no bulk actions"), severity="warning")
            return
        self.app.push_screen(BulkPicker(t, allowed, len(self.marks)), self._chosen)

    def _chosen(self, command: str | None) -> None:
        if command is not None:
            self.prepare_bulk_form(command, list(self.marks.values()))

    @work(thread=True, exclusive=True, group="bulk-form", exit_on_error=False)
    def prepare_bulk_form(self, command: str, rows: list[TicketRow]) -> None:
        from cxdesk.screens.command_forms import command_fields

        try:
            fields = command_fields(self.desk, command, rows)
        except Exception as exc:  # shown to the user, the screen stays usable
            failed = self.t("could not open the form: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(BulkFormReady(command, fields))

    def on_bulk_form_ready(self, message: BulkFormReady) -> None:
        rows = list(self.marks.values())
        if not message.fields:
            self.apply_bulk(message.command, rows, {})
            return
        title = self.t(
            "{action} {count} marked tickets",
            action=self.t(declared(message.command).TITLE),
            count=len(rows),
        )

        def submitted(values: dict[str, str] | None) -> None:
            if values is not None:
                self.apply_bulk(message.command, rows, values)

        from cxdesk.screens.forms import FormScreen

        self.app.push_screen(FormScreen(title, message.fields, self.t), submitted)

    @work(thread=True, exclusive=True, group="bulk-apply", exit_on_error=False)
    def apply_bulk(self, command: str, rows: list[TicketRow], values: dict[str, str]) -> None:
        from cxdesk.workflow.loop.desk_commands import command_from_values
        from cxdesk.workflow.loop.service import TicketService
        from cxdesk.workflow.reads.templates import read_template_text

        desk = self.desk
        at = desk.clock()
        try:
            commands = [
                command_from_values(
                    declared(command),
                    row.number,
                    values,
                    version=row.version,
                    at=at,
                    fill_template=partial(
                        read_template_text, desk.db, ticket_id=row.number, actor=desk.actor
                    ),
                )
                for row in rows
            ]
            outcomes = TicketService(desk.db, desk.settings, desk.actor).handle_each(commands)
        except Exception as exc:  # never silent: nothing, or only some, reached the tickets
            failed = self.t("bulk action failed: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(BulkDone(command, outcomes))

    def on_bulk_done(self, message: BulkDone) -> None:
        """Done tickets are unmarked; refused ones stay marked to look at or try again."""
        for outcome in message.outcomes:
            if outcome.refused is None:
                self.marks.pop(ticket_ref(outcome.ticket_id), None)
        self.marks_changed()
        self.app.push_screen(BulkResult(self.t, message.command, message.outcomes))
