"""What a command writes of its ticket: an opening stores the ticket the command returns, and
a command sets the columns it changed and no others, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import CxdeskError, WorkflowError
from cxdesk.models import Customer, FollowUp, Ticket, TicketKind
from cxdesk.models.base import table_of
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.audit.chain import verify_chain
from cxdesk.workflow.audit.verify import verify_deep
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import Claim, Pend, Resolve, Respond, Resume
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService
from cxdesk.workflow.loop.ticket_rows import load_ticket
from cxdesk.workflow.sweep import sweep

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SETTINGS = Settings()
_tickets = table_of(Ticket)


def _stored(db: Database, ticket_id: int) -> dict[str, Any]:
    with db.session() as session:
        row = session.connection().execute(sa.select(_tickets).where(_tickets.c.id == ticket_id))
        return dict(row.one()._mapping)


def _as_object(ticket: Ticket) -> dict[str, Any]:
    return {column.name: getattr(ticket, column.name) for column in _tickets.columns}


def _setup(db: Database) -> None:
    with db.write() as session:
        add_agent(
            session, login="ann", display_name="Ann", role="agent", teams=["care"], skills=[], at=T0
        )


def _open(
    service: TicketService, session: Any, title: str = "the parcel came late", **fields: Any
) -> Ticket:
    command = OpenTicket(
        **{"kind": TicketKind.CASE, "queue_id": "aftersales", "priority": "P2", "at": T0} | fields,
        title=title,
    )
    return service.handle(command, session)


@contextmanager
def _ticket_updates(db: Database, *, through_orm: bool = False) -> Iterator[list[str]]:
    """The UPDATE statements the block sends for the tickets table (with `through_orm`, those
    sent through SQLAlchemy's execution, as the ORM's flush sends them, alone)."""
    seen: list[str] = []

    def before(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_: Any
    ) -> None:
        updates = statement.lstrip().upper().startswith("UPDATE TICKETS")
        if updates and (context is not None or not through_orm):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def _set_columns(statement: str) -> set[str]:
    assignments = statement.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    return {part.split("=")[0].strip().strip('"') for part in assignments.split(",")}


def test_an_opened_ticket_is_the_one_stored_and_further_commands_in_its_batch_see_it(
    db: Database,
) -> None:
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    ann = TicketService(db, SETTINGS, "ann")
    with db.write() as session:
        first = _open(system, session, "第一个 \x1b[2J title")
        opened = _as_object(first)
        second = _open(system, session)
    assert second.id == (first.id or 0) + 1
    assert _stored(db, first.id or 0) == opened  # every column, as the command returned it
    with ann.batch([first.id or 0]) as batch:
        batch_ticket = _open(system, batch.session)
        claimed = ann.handle(Claim(batch_ticket.id or 0, version=1, at=T0), batch.session)
        answered = ann.handle(
            Respond(claimed.id or 0, "您好", version=claimed.version, at=T0), batch.session
        )
        kept = _as_object(answered)
    stored = _stored(db, batch_ticket.id or 0)
    assert stored == kept and (stored["version"], stored["assignee"]) == (3, "ann")
    assert stored["first_response_at"] is not None
    with db.session() as session:
        assert verify_chain(session).problem is None
        assert verify_deep(session).problem is None


def test_a_command_sets_only_the_columns_it_changed(db: Database) -> None:
    """SQLite rewrites an index entry for each indexed column an UPDATE sets, changed or not."""
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    ann = TicketService(db, SETTINGS, "ann")
    with db.write() as session:
        ticket_id = _open(system, session).id or 0
    at = T0 + timedelta(minutes=5)
    with _ticket_updates(db) as updates:
        claimed = ann.handle(Claim(ticket_id, version=1, at=at))
    assert [_set_columns(u) for u in updates] == [{"assignee", "stage", "version", "updated_at"}]
    with _ticket_updates(db) as updates:
        pended = ann.handle(
            Pend(ticket_id, "waiting for the photo", version=claimed.version, at=at)
        )
    assert len(updates) == 1 and {"stage", "paused_at", "version"} <= _set_columns(updates[0])
    assert "assignee" not in _set_columns(updates[0])
    resumed = ann.handle(Resume(ticket_id, version=pended.version, at=at + timedelta(hours=1)))
    resolved = ann.handle(
        Resolve(
            ticket_id,
            code="explanation",
            root_cause="the hub",
            action="refunded",
            version=resumed.version,
            at=at + timedelta(hours=1),
        )
    )
    assert _stored(db, ticket_id) == _as_object(resolved)
    with db.session() as session:
        followup = session.exec(select(FollowUp).where(FollowUp.ticket_id == ticket_id)).one()
    resolved_at = at + timedelta(hours=1)
    assert (followup.status, followup.send_at, followup.next_attempt_at, followup.attempts) == (
        "scheduled",
        resolved_at,
        resolved_at,
        0,
    )
    assert followup.expires_at == resolved_at + SETTINGS.verify.window
    assert len(followup.reply_token) == 32 and followup.sent_at is None


def test_an_escalation_writes_its_ticket_as_a_row_not_through_the_orm(db: Database) -> None:
    """Escalating looks up the team's supervisor after the ticket has changed: that read
    flushes nothing, and the ticket is written as a row, as every command writes it."""
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    with db.write() as session:
        ticket_id = _open(system, session).id or 0
    with _ticket_updates(db) as updates, _ticket_updates(db, through_orm=True) as by_orm:
        report = sweep(db, SETTINGS, T0 + timedelta(days=3))
    assert report.breaches == 1 and updates and not by_orm
    with db.session() as session:
        assert session.get_one(Ticket, ticket_id).escalation_level == 1


def _refused_in_a_savepoint(session: Any, act: Any) -> Any:
    """Run `act` in a savepoint that a later step of the caller's then refuses."""
    done = None
    try:
        with session.begin_nested():
            done = act()
            raise WorkflowError("a later step was refused")
    except WorkflowError:
        pass
    return done


def test_a_savepoint_rolled_back_leaves_the_ticket_as_stored(db: Database) -> None:
    """The ticket a command leaves in the caller's session goes back to its stored values
    when the caller's savepoint rolls back, as a ticket the ORM flushed does."""
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    ann = TicketService(db, SETTINGS, "ann")
    with db.write() as session:
        ticket_id = _open(system, session).id or 0
    with ann.batch([ticket_id]) as batch:
        claimed = _refused_in_a_savepoint(
            batch.session, lambda: ann.handle(Claim(ticket_id, version=1, at=T0), batch.session)
        )
        assert (claimed.version, claimed.assignee, claimed.stage) == (1, None, "new")
        again = ann.handle(Claim(ticket_id, version=claimed.version, at=T0), batch.session)
    assert _stored(db, ticket_id) == _as_object(again) and again.version == 2


def test_a_command_reads_its_ticket_as_the_orm_loads_it(db: Database) -> None:
    """A command's ticket is read on the driver: every column as the ORM reads it, a copy
    the session held made fresh in place (never acted on stale), the ticket then the
    session's own, clean."""
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    ann = TicketService(db, SETTINGS, "ann")
    with db.write() as session:
        ticket_id = _open(system, session, "王 late \x1b[2J", tags=["vip", "退款"]).id or 0
    claimed = ann.handle(Claim(ticket_id, version=1, at=T0))
    ann.handle(Pend(ticket_id, "photo", version=claimed.version, at=T0 + timedelta(hours=1)))
    with db.session() as session:
        by_the_orm = _as_object(session.get_one(Ticket, ticket_id))
    assert by_the_orm["paused_at"] is not None and by_the_orm["tags"] == ["vip", "退款"]
    with db.write() as session:
        loaded = load_ticket(session, ticket_id)
        assert loaded is not None and _as_object(loaded) == by_the_orm
        assert session.get(Ticket, ticket_id) is loaded and loaded not in session.dirty
        session.connection().execute(  # another change to the row, under the copy held
            sa.update(_tickets).where(_tickets.c.id == ticket_id).values(title="changed")
        )
        again = load_ticket(session, ticket_id)
        assert again is loaded and loaded.title == "changed" and not sa.inspect(loaded).modified
        assert load_ticket(session, ticket_id + 100) is None
        # filed under the row's number, however it was asked for (found by a review)
        assert load_ticket(session, cast(int, str(ticket_id))) is loaded


def test_an_opening_rolled_back_gives_its_number_to_the_next(db: Database) -> None:
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    with system.batch(()) as batch:
        first = _refused_in_a_savepoint(batch.session, lambda: _open(system, batch.session, "1st"))
        second = _open(system, batch.session, "2nd")
        assert second.title == "2nd" and first is not second
    assert _stored(db, second.id or 0)["title"] == "2nd"


def test_an_opening_writes_after_what_the_caller_added(db: Database) -> None:
    """A customer the caller added through the session is written before the ticket that
    refers to it."""
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    with system.batch(()) as batch:
        _open(system, batch.session, "warm-up")  # the queue and the actor are read once
        batch.session.add(Customer(id="C-NEW", created_at=T0, updated_at=T0))
        opened = _open(system, batch.session, "x", customer_id="C-NEW")
    assert _stored(db, opened.id or 0)["customer_id"] == "C-NEW"


def test_a_refused_opening_takes_no_number(db: Database) -> None:
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    with db.write() as session:
        before = _open(system, session).id or 0
    for _ in range(3):
        with pytest.raises(CxdeskError), db.write() as session:
            _open(system, session, at=datetime(1, 1, 1, tzinfo=UTC))
    with db.write() as session:
        assert _open(system, session).id == before + 1


def test_a_refused_command_leaves_nothing_of_its_changes_in_the_batch(db: Database) -> None:
    """A command refused after it began changing the ticket (a reason too long) changes
    nothing, though the caller's transaction goes on and commits."""
    _setup(db)
    system = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    ann = TicketService(db, SETTINGS, "ann")
    with db.write() as session:
        ticket_id = _open(system, session).id or 0
    claimed = ann.handle(Claim(ticket_id, version=1, at=T0))
    with ann.batch([ticket_id]) as batch:
        with pytest.raises(WorkflowError):
            ann.handle(Pend(ticket_id, "x" * 20_001, version=claimed.version, at=T0), batch.session)
        answered = ann.handle(
            Respond(ticket_id, "您好", version=claimed.version, at=T0), batch.session
        )
    stored = _stored(db, ticket_id)
    assert stored == _as_object(answered)
    assert (stored["stage"], stored["paused_at"], stored["paused_from"]) == ("collect", None, None)
