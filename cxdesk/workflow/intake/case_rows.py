"""Writing a batch's cases: new ones get their ticket ids and are inserted in one statement,
changed ones are updated in two, so that each row names only the columns that changed."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection

from cxdesk.db import insert_rows, update_rows
from cxdesk.models import Stage, Ticket, TicketKind
from cxdesk.models.base import table_of
from cxdesk.workflow.intake.cases import Case

_tickets = table_of(Ticket)


def insert_new_cases(connection: Connection, new: list[Case]) -> None:
    """Give the new cases their ticket ids and insert them."""
    if not new:
        return
    for case, number in zip(new, allocate_ticket_ids(connection, len(new)), strict=True):
        case.id = number
    rows = []
    for case in new:
        rows.append(
            {
                "id": case.id,
                "kind": TicketKind.CASE,
                "stage": Stage.NEW,
                "priority": case.priority,
                "queue_id": case.queue_id,
                "customer_id": case.customer_id,
                "assignee": case.assignee,
                "rule": case.rows["rule"],
                "title": case.rows["title"],
                "tags": case.rows["tags"],
                "opened_at": case.opened_at,
                "first_response_due": case.first_response_due,
                "resolution_due": case.resolution_due,
                "sla_due": case.sla_due,
                "sla_risk_at": case.sla_risk_at,
                "escalation_level": 0,
                "reopen_count": 0,
                "paused_seconds": 0,
                "version": case.version,
                "updated_at": case.updated_at,
            }
        )
    insert_rows(connection, _tickets, rows)


def allocate_ticket_ids(connection: Connection, count: int) -> list[int]:
    """Ids for new tickets: the transaction holds the write lock (SQLite) or draws them
    from the sequence (PostgreSQL), so no other writer can take the same ones."""
    if connection.dialect.name == "postgresql":
        return list(
            connection.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('tickets', 'id')) "
                f"FROM generate_series(1, {int(count)})"
            ).scalars()
        )
    start = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM tickets").scalar()
    assert start is not None  # coalesce: 0 when there are no tickets
    return list(range(start + 1, start + 1 + count))


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
