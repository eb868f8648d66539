"""The audit chain's end kept by a transaction, on both backends: many commands in one
transaction chain their rows one after another, a savepoint rolled back takes its rows with
it without breaking the chain, and a service's queues outlive a refused command's rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import StaleVersion, WorkflowError
from cxdesk.models import AuditEntry, TicketKind
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.audit.chain import append_audit, verify_chain
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import Claim, Note
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService

SETTINGS = Settings()
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def opening(n: int) -> OpenTicket:
    return OpenTicket(
        kind=TicketKind.CASE,
        queue_id="aftersales",
        priority="P2",
        title=f"case {n}",
        at=T0 + timedelta(minutes=n),
    )


@pytest.fixture
def agent(db: Database) -> TicketService:
    with db.write() as session:
        add_agent(
            session, login="ann", display_name="Ann", role="agent", teams=["care"], skills=[], at=T0
        )
    return TicketService(db, SETTINGS, "ann")


def audit_rows(db: Database) -> int:
    with db.session() as session:
        return session.exec(select(func.count()).select_from(AuditEntry)).one()


def test_a_rolled_back_savepoint_leaves_the_chain_whole(db: Database) -> None:
    service = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    before = audit_rows(db)
    with db.write() as session:
        first = service.handle(opening(1), session)
        with pytest.raises(WorkflowError), session.begin_nested():
            service.handle(opening(2), session)  # its row is appended, then undone
            raise WorkflowError("refused after writing")
        service.handle(opening(3), session)  # chained to the first, not to the undone row
        append_audit(session, at=T0, actor="test", action="note", ticket_id=first.id, detail={})
    with db.session() as session:
        check = verify_chain(session)
    assert check.problem is None, check.problem
    assert audit_rows(db) == before + 3


def test_commands_in_one_transaction_and_in_their_own_chain_alike(
    db: Database, agent: TicketService
) -> None:
    service = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    with service.batch(()) as batch:
        ids = [service.handle(opening(n), batch.session).id for n in range(3)]
    for ticket_id in ids:
        assert ticket_id is not None
        agent.handle(Claim(ticket_id, version=1))
    with agent.batch(ids) as batch:
        for ticket_id in ids:
            assert ticket_id is not None
            agent.handle(Note(ticket_id, "checked the order"), batch.session)
    with db.session() as session:
        check = verify_chain(session)
    assert check.problem is None, check.problem


def test_a_refused_command_does_not_spoil_the_services_queues(
    db: Database, agent: TicketService
) -> None:
    service = TicketService(db, SETTINGS, SYSTEM_ACTOR)
    with db.write() as session:
        ticket_id = service.handle(opening(1), session).id
    assert ticket_id is not None
    with pytest.raises(StaleVersion):
        agent.handle(Claim(ticket_id, version=7))  # rolled back after reading the queue
    claimed = agent.handle(Claim(ticket_id, version=1))  # the queue read before is still whole
    assert claimed.assignee == "ann" and claimed.version == 2
