"""The command handlers over an in-memory unit of work: an SQLite database held in memory (no
file, no server), migrated as any; what each handler changes, and what a refusal leaves alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import func, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import StaleVersion, WorkflowError
from cxdesk.models import AuditEntry, FollowUp, Ticket, TicketKind
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import Claim, Escalate, Resolve, Respond
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.ops.schema import upgrade_database

T0 = datetime(2026, 3, 2, 1, tzinfo=UTC)
SETTINGS = Settings()


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Database]:
    db = Database("sqlite://", key_file=tmp_path / "audit.key")
    upgrade_database(db)
    with db.write() as session:
        sync_org(session, SETTINGS)
        add_agent(
            session, login="ann", display_name="Ann", role="agent", teams=["care"], skills=[], at=T0
        )
    yield db
    db.dispose()


def opened(db: Database) -> int:
    with db.write() as session:
        ticket = TicketService(db, SETTINGS).handle(
            OpenTicket(
                kind=TicketKind.CASE, queue_id="aftersales", priority="P2", title="late", at=T0
            ),
            session,
        )
        assert ticket.id is not None
        return ticket.id


def audit_rows(db: Database) -> int:
    with db.session() as session:
        return session.exec(select(func.count()).select_from(AuditEntry)).one()


def test_claim_respond_resolve(memory: Database) -> None:
    ticket_id = opened(memory)
    ann = TicketService(memory, SETTINGS, "ann")
    assert ann.handle(Claim(ticket_id, at=T0)).stage == "collect"
    answered = ann.handle(Respond(ticket_id, "on it", at=T0))
    assert answered.first_response_at is not None
    resolved = ann.handle(Resolve(ticket_id, code="fix", root_cause="van", action="resent", at=T0))
    assert (resolved.stage, resolved.version, resolved.resolution_code) == ("verify", 4, "fix")
    with memory.session() as session:
        assert session.exec(select(FollowUp).where(FollowUp.ticket_id == ticket_id)).one()


def test_a_refusal_changes_nothing(memory: Database) -> None:
    ticket_id = opened(memory)
    ann = TicketService(memory, SETTINGS, "ann")
    ann.handle(Claim(ticket_id, at=T0))
    before = audit_rows(memory)
    with pytest.raises(WorkflowError, match="resolution code 'fixed' is not one of"):
        ann.handle(Resolve(ticket_id, code="fixed", root_cause="r", action="a", at=T0))
    with pytest.raises(StaleVersion):
        ann.handle(Respond(ticket_id, "late", version=1, at=T0))
    with memory.session() as session:
        ticket = session.get_one(Ticket, ticket_id)
        assert (ticket.stage, ticket.version, ticket.resolution_code) == ("collect", 2, None)
    assert audit_rows(memory) == before


def test_the_ladder_has_two_rungs(memory: Database) -> None:
    ticket_id = opened(memory)
    ann = TicketService(memory, SETTINGS, "ann")
    assert ann.handle(Escalate(ticket_id, "angry", at=T0)).escalation_level == 1
    assert ann.handle(Escalate(ticket_id, "angrier", at=T0)).escalation_level == 2
    with pytest.raises(WorkflowError, match="already at the top of the ladder"):
        ann.handle(Escalate(ticket_id, "furious", at=T0))
