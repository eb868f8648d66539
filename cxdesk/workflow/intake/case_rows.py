"""Writing a batch's cases: new ones get their ticket ids and are inserted in one statement,
changed ones are updated in two, so that each row names only the columns that changed."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection

from cxdesk.db import insert_rows, update_rows
from cxdesk.models import Ticket, TicketKind
from cxdesk.models.base import table_of
from cxdesk.workflow.intake.cases import Case
from cxdesk.workflow.loop.ticket_rows import allocate_ticket_ids, opening_row

_tickets = table_of(Ticket)


def insert_new_cases(connection: Connection, new: list[Case]) -> None:
    """Give the new cases their ticket ids and insert them."""
    if not new:
        return
    rows = []
    for case, number in zip(new, allocate_ticket_ids(connection, len(new)), strict=True):
        case.id = number
        rows.append(
            opening_row(
                number,
                TicketKind.CASE,
                case.queue_id,
                case.priority,
                case.customer_id,
                case.assignee,
                case.rows["rule"],
                case.rows["title"],
                case.rows["tags"],
                case.opened_at,
                (case.first_response_due, case.resolution_due, case.sla_due, case.sla_risk_at),
                version=case.version,
                updated_at=case.updated_at,
            )
        )
    insert_rows(connection, _tickets, rows)


def update_changed_cases(
    connection: Connection, changed: Collection[Case], raised_cases: Collection[str]
) -> None:
    """Cases that only gained alerts get their version moved; those whose priority rose
    (`raised_cases`, by customer) get their clocks too. Two statements, because SQLite
    rewrites an index entry for every indexed column an UPDATE names, changed or not."""
    touched = [
        {"id": c.id, "version": c.version, "updated_at": c.updated_at}
        for c in changed
        if c.customer_id not in raised_cases
    ]
    update_rows(connection, _tickets, touched)
    raised = [
        {
            "id": c.id,
            "priority": c.priority,
            "first_response_due": c.first_response_due,
            "resolution_due": c.resolution_due,
            "sla_due": c.sla_due,
            "sla_risk_at": c.sla_risk_at,
            "version": c.version,
            "updated_at": c.updated_at,
        }
        for c in changed
        if c.customer_id in raised_cases
    ]
    update_rows(connection, _tickets, raised)
