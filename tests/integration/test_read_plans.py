"""Reads on the driver (`DriverRead`) give the rows SQLAlchemy's own execution gives: each
column made by its type's result processor, bound values (given or the statement's own)
made by their bind processors, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from cxdesk.db import Database, DriverRead
from cxdesk.models import Stage, Ticket
from cxdesk.models.base import table_of
from cxdesk.models.tickets import NOT_CLOSED
from cxdesk.workflow.basics.statements import select_columns

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
TICKETS = table_of(Ticket)


def _stored(db: Database) -> None:
    rows: list[dict[str, Any]] = [
        {
            "id": n,
            "kind": "case",
            "stage": [Stage.NEW, Stage.CLOSED, Stage.ANALYZE][n % 3].value,
            "priority": "P2",
            "queue_id": "aftersales",
            "title": f"王 {n} \x1b[2J 'quoted' %s ?",
            "tags": [f"t{n}", "退款"] if n % 2 else [],
            "opened_at": T0 + timedelta(hours=n),
            "first_response_at": None if n % 2 else T0 + timedelta(hours=n, minutes=5),
            "escalation_level": 0,
            "reopen_count": 0,
            "paused_seconds": n,
            "version": 1,
            "updated_at": T0,
        }
        for n in range(1, 7)
    ]
    with db.write() as session:
        session.connection().execute(TICKETS.insert(), rows)


def test_a_read_on_the_driver_gives_the_rows_sqlalchemy_gives(db: Database) -> None:
    _stored(db)
    statement = (
        select_columns(
            TICKETS.c.id,
            TICKETS.c.stage,
            TICKETS.c.title,
            TICKETS.c.tags,
            TICKETS.c.opened_at,
            TICKETS.c.first_response_at,
        )
        .where(
            TICKETS.c.opened_at >= sa.bindparam("since", type_=TICKETS.c.opened_at.type),
            TICKETS.c.stage != Stage.CLOSED,  # a value of the statement's own
            TICKETS.c.paused_seconds <= sa.bindparam("most"),
        )
        .order_by(TICKETS.c.id)
    )
    since = (T0 + timedelta(hours=2)).astimezone(timezone(timedelta(hours=8)))  # not UTC
    with db.session() as session:
        connection = session.connection()
        by_sqlalchemy = [
            tuple(r) for r in connection.execute(statement, {"since": since, "most": 5})
        ]
        on_driver = DriverRead(statement).rows(connection, since=since, most=5)
    assert [row[0] for row in by_sqlalchemy] == [2, 3, 5]
    assert on_driver == by_sqlalchemy
    assert on_driver[0][4] == T0 + timedelta(hours=2) and on_driver[0][4].tzinfo is not None
    assert on_driver[0][3] == [] and on_driver[1][3] == ["t3", "退款"]


def test_a_locked_read_of_one_row_and_of_none(db: Database) -> None:
    _stored(db)
    read = DriverRead(
        sa.select(*TICKETS.columns).where(TICKETS.c.id == sa.bindparam("id")).with_for_update()
    )
    with db.write() as session:
        connection = session.connection()
        row = read.first(connection, id=4)
        assert row is not None
        expected = connection.execute(sa.select(*TICKETS.columns).where(TICKETS.c.id == 4)).one()
        assert row == tuple(expected)
        assert read.first(connection, id=99) is None


def test_a_value_given_takes_the_place_of_the_statements_own(db: Database) -> None:
    """Found by a review: the statement's value for `id` won over the one given."""
    _stored(db)
    read = DriverRead(sa.select(TICKETS.c.id).where(TICKETS.c.id == sa.bindparam("id", 5)))
    with db.session() as session:
        connection = session.connection()
        assert read.rows(connection, id=2) == [(2,)]
        assert read.rows(connection) == [(5,)]
        with pytest.raises(ValueError, match="no bound value 'ids'"):
            read.rows(connection, ids=2)
    required = DriverRead(sa.select(TICKETS.c.id).where(TICKETS.c.id == sa.bindparam("id")))
    with db.session() as session, pytest.raises(ValueError, match="a value is required for id"):
        required.rows(session.connection())


def test_values_filled_in_at_execution_are_refused_with_a_clear_error(db: Database) -> None:
    """Found by a review: an expanding IN list or a value rendered into the SQL at execution
    (`NOT_CLOSED`) reached the driver as `[POSTCOMPILE_…]`, a syntax error."""
    _stored(db)
    with db.session() as session:
        for condition in (NOT_CLOSED, TICKETS.c.id.in_([1, 2])):
            read = DriverRead(sa.select(sa.func.count()).select_from(TICKETS).where(condition))
            with pytest.raises(ValueError, match="filled in at execution"):
                read.rows(session.connection())
