"""A ticket as the command line prints it: a row of a listing, or the line a command that
acted on it answers with. Shared by `ticket`'s own commands and the desk's (`ticket_work`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cxdesk.cli.context import Context
from cxdesk.output import print_json, say

if TYPE_CHECKING:
    from cxdesk.workflow.reads.tickets import TicketRow


def ticket_json(
    context: Context, row: TicketRow, now: datetime, *, text: bool = False
) -> dict[str, Any]:
    """A ticket row as the CLI prints it, with the running clock in working time: in JSON
    its state, the time left and the due time (ISO 8601) apart; as `text` (a table or CSV)
    one cell with the state's marker and the local due time, `~1h 20m · 14:00`."""
    from cxdesk.workflow.clocks.sla import format_remaining, sla_text

    data = row.to_json()
    reading = context.clocks().read(row.queue, row.priority, row.sla_due, row.sla_risk_at, now)
    data["sla_state"] = reading.state.value if reading else None
    if text:
        data["sla"] = sla_text(reading, row.sla_due, now, context.settings.timezone)
    else:
        data["sla"] = format_remaining(reading)
    data["customer"] = row.customer_name or row.customer_id
    return data


def show_acted(context: Context, number: int, fmt: str, line: Callable[[TicketRow], str]) -> None:
    """The ticket as a command left it: as JSON, or the command's one line."""
    from cxdesk.workflow.reads.detail import read_ticket_detail

    row = read_ticket_detail(context.database(), number, context.viewer()).row
    if fmt == "json":
        print_json(ticket_json(context, row, context.now()))
    else:
        say(line(row))
