"""A ticket's row written past the ORM, as ingest writes its cases: a new ticket's row and
number, the columns a command changed, and the ticket then taken into the session as the ORM
takes one it has loaded or flushed. Building and flushing tickets through the ORM took a
third of an opening and a fifth of every other command."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, inspect, select
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import Session

from cxdesk.db import DriverRead, first_on_driver, insert_rows, update_rows
from cxdesk.models import Stage, Ticket
from cxdesk.models.base import table_of
from cxdesk.workflow.clocks.sla import Clocks

TICKETS = table_of(Ticket)
_MANAGER = manager_of_class(Ticket)
_MAPPER = inspect(Ticket)
_COLUMNS = tuple(TICKETS.columns.keys())
_LOCKED_TICKET = DriverRead(
    select(*TICKETS.columns).where(TICKETS.c.id == bindparam("id")).with_for_update()
)
# A ticket's stage alone, unlocked: what an answer or a story step looks at before it acts.
TICKET_STAGE = DriverRead(select(TICKETS.c.stage).where(TICKETS.c.id == bindparam("id")))


def opening_row(
    number: int,
    kind: str,
    queue_id: str,
    priority: str,
    customer_id: str | None,
    assignee: str | None,
    rule: str | None,
    title: str,
    tags: list[str],
    opened_at: datetime,
    clocks: Clocks,
    *,
    version: int = 1,
    updated_at: datetime | None = None,
) -> dict[str, Any]:
    """A new ticket's row with every column named, nothing left to defaults, as the command
    and ingest's bulk path (where alerts may have moved the version on) insert it."""
    first_response_due, resolution_due, sla_due, sla_risk_at = clocks
    return {
        "id": number,
        "kind": str(kind),
        "stage": Stage.NEW.value,
        "priority": str(priority),
        "queue_id": queue_id,
        "assignee": assignee,
        "customer_id": customer_id,
        "rule": rule,
        "title": title,
        "tags": tags,
        "opened_at": opened_at,
        "first_response_due": first_response_due,
        "resolution_due": resolution_due,
        "sla_due": sla_due,
        "sla_risk_at": sla_risk_at,
        "escalation_level": 0,
        "reopen_count": 0,
        "paused_seconds": 0,
        "version": version,
        "updated_at": updated_at or opened_at,
    }


def insert_ticket(session: Session, values: dict[str, Any]) -> Ticket:
    """Insert a new ticket's row (`opening_row`) and give the session its ticket, made as
    the ORM makes one it loads: an instance from the model's class manager, without the
    constructor (which took a quarter of an opening), every column set from the row."""
    insert_rows(session.connection(), TICKETS, [values])
    ticket: Ticket = _MANAGER.new_instance()
    ticket.__dict__.update(dict.fromkeys(_COLUMNS), **values)
    session.add(ticket)
    written(session, ticket)
    return ticket


def load_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """The ticket, read afresh under the transaction's write lock (FOR UPDATE on PostgreSQL)
    as the ORM loads one, overwriting any copy the session holds: the ORM's own load took a
    tenth of every command. What the session holds unwritten is flushed first, as the ORM's
    query would flush it."""
    session.flush()
    row = _LOCKED_TICKET.first(session.connection(), id=ticket_id)
    if row is None:
        return None
    values = dict(zip(_COLUMNS, row, strict=True))
    key = _MAPPER.identity_key_from_primary_key((values["id"],))  # the row's, as stored
    held = session.identity_map.get(key)
    if held is not None:  # made fresh in place, as a load with populate_existing does
        state = inspect(held)
        state.dict.update(values)
        state._commit_all(state.dict, session.identity_map)
        return held  # type: ignore[no-any-return]
    if not _MAPPER.configured:  # as the ORM's first query would: this may be a process's first
        configure_mappers()
    ticket: Ticket = _MANAGER.new_instance()
    ticket.__dict__.update(values)
    state = inspect(ticket)  # taken into the session as the ORM takes a row it loads
    state.key = key
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)
    return ticket


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
    start = first_on_driver(connection, "SELECT coalesce(max(id), 0) FROM tickets")
    assert start is not None  # coalesce: 0 when there are no tickets
    return list(range(start + 1, start + 1 + count))


def write_changes(session: Session, ticket: Ticket) -> None:
    """UPDATE the ticket's changed columns as a row, as ingest updates its cases: flushing
    this one object through the ORM took a fifth of a command."""
    if session.new:
        session.flush()  # rows added meanwhile go first, as the ORM's flush would order them
    state = inspect(ticket)
    values = {
        name: state.dict[name]
        for name, before in sorted(state.committed_state.items())
        if state.dict[name] != before  # SQLite rewrites the index entries of each column set
    }
    if values:
        update_rows(session.connection(), TICKETS, [{"id": ticket.id, **values}])
    written(session, ticket)


def written(session: Session, ticket: Ticket) -> None:
    """Take a ticket whose row was just written past the ORM as the ORM takes one it has
    flushed: in the identity map, clean, and expired (or, new, let go) should the
    transaction or savepoint it was written in roll back. This is the ORM's own (private)
    step after a flush; `tests/integration/test_command_writes.py` fails should it change."""
    session._register_persistent({inspect(ticket)})
