"""What the queue shows of a ticket and of a page: its views, columns and cells, and the
span the status line gives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

from cxdesk.i18n import Translator
from cxdesk.screens.context import Desk
from cxdesk.screens.format import PRIORITY_STYLE, STATE_STYLE, age, plain, sla_cell
from cxdesk.workflow.reads.tickets import TicketRow, View

COUNT_CAP = 1_000  # beyond this the status line says "1,000+": ten pages, counted in ms
VIEW_TITLES = {
    View.MINE: "Mine",
    View.UNASSIGNED: "Unassigned",
    View.AT_RISK: "At risk",
    View.BREACHED: "Breached",
    View.ESCALATED: "Escalated",
    View.VERIFYING: "Verifying",
    View.ALL: "All",
}
# Column keys; the headers show them in the desk's language (the catalogue test checks these).
COLUMNS = ("ID", "Pri", "Stage", "Queue", "Assignee", "Customer", "SLA", "Age", "Title")
# (widest, narrowest) in cells: a narrow terminal shrinks the widest columns first.
COLUMN_WIDTHS = {
    "ID": (9, 9),
    "Pri": (3, 3),
    "Stage": (8, 5),
    "Queue": (12, 5),
    "Assignee": (14, 6),
    "Customer": (16, 6),
    "SLA": (18, 18),
    "Age": (7, 7),
    "Title": (None, 6),
}


# The config's names for the columns (`[views.NAME] columns = [...]`), by column key.
CONFIG_COLUMNS = dict(
    zip(
        ("id", "priority", "stage", "queue", "assignee", "customer", "sla", "age", "title"),
        COLUMNS,
        strict=True,
    )
)


def row_cells(
    desk: Desk, row: TicketRow, now: datetime, columns: Sequence[str] = COLUMNS
) -> list[Text]:
    """A ticket's cells for `columns` (keys, in COLUMNS order), its id coloured by the state
    of its clock."""
    reading = desk.reading(row, now)
    style = STATE_STYLE[reading.state] if reading else ""
    cells = {
        "ID": Text(row.id, style=style),
        "Pri": Text(row.priority, style=PRIORITY_STYLE.get(row.priority, "")),
        "Stage": plain(row.stage),
        "Queue": plain(row.queue),
        "Assignee": plain(row.assignee or "—"),
        "Customer": plain(row.customer_name or row.customer_id or "—"),
        "SLA": sla_cell(reading, desk.t),
        "Age": plain(age(row.opened_at, now)),
        "Title": plain(row.title),
    }
    return [cells[key] for key in columns]


def page_span(t: Translator, before: int, shown: int, total: int | None) -> str:
    """`101–200 of 1,000+`: the rows shown after `before` others, of a total counted up to
    COUNT_CAP (None: still counting)."""
    if not shown and not before:
        return t("no tickets in this view")
    counted = "…" if total is None else f"{min(total, COUNT_CAP):,}"
    if total is not None and total > COUNT_CAP:
        counted += "+"
    first = before + 1 if shown else 0
    span = {"first": f"{first:,}", "last": f"{before + shown:,}", "total": counted}
    return t("{first}–{last} of {total}", **span)
