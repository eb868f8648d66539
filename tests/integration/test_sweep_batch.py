"""The sweep's shared write transactions, on both backends: a ticket that fails undoes only
itself, notifications reach the hook once and only after the commit, and a pass takes one
transaction per `BATCH_TICKETS` tickets it handles."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import WorkflowError
from cxdesk.models import Notification, Team, Ticket
from cxdesk.workflow import sweep as sweep_module
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.audit.chain import verify_chain
from cxdesk.workflow.loop import notifications as notifications_module
from cxdesk.workflow.loop.commands import EscalateBreach
from cxdesk.workflow.loop.service import HANDLERS, TicketService
from cxdesk.workflow.loop.unit import Acting
from cxdesk.workflow.sweep import sweep
from tests.integration.test_sweep import T0, feed, survey, ticket, timeline

SETTINGS = Settings()
Told = tuple[str, int | None, str]  # (login, ticket, kind) of one notification


@pytest.fixture
def supervised(db: Database) -> Database:
    """The care team has a supervisor, told of every first-response breach."""
    with db.write() as session:
        add_agent(
            session,
            login="sue",
            display_name="Sue",
            role="supervisor",
            teams=["care"],
            skills=[],
            at=T0,
        )
        session.get_one(Team, "care").supervisor = "sue"
    return db


@pytest.fixture
def told(supervised: Database, monkeypatch: pytest.MonkeyPatch) -> list[Told]:
    """What reaches the hook; each notification must be committed (readable by another
    session) by the time it does."""
    heard: list[Told] = []

    def announce(_settings: Settings, notices: list[Notification]) -> None:
        for notice in notices:
            with supervised.session() as session:
                stored = session.exec(
                    select(Notification).where(
                        Notification.login == notice.login,
                        Notification.ticket_id == notice.ticket_id,
                        Notification.kind == notice.kind,
                    )
                ).first()
                assert stored is not None, "told before commit"
            heard.append((notice.login, notice.ticket_id, notice.kind))

    monkeypatch.setattr(notifications_module, "announce", announce)
    return heard


def breaching(db: Database, count: int) -> tuple[list[int], datetime]:
    """`count` cases opened at once, and an instant just after their first response is due."""
    ids = [i for i in feed(db, *(survey(f"e{n}", f"c{n}", T0, nps=2) for n in range(count))) if i]
    assert len(ids) == count
    return ids, ticket(db, ids[0]).first_response_due + timedelta(minutes=1)


def notifications(db: Database) -> list[Told]:
    with db.session() as session:
        rows = session.exec(select(Notification).order_by(col(Notification.id))).all()
        return [(n.login, n.ticket_id, n.kind) for n in rows]


def test_a_ticket_that_fails_in_a_batch_undoes_only_itself(
    supervised: Database, told: list[Told], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = supervised
    ids, late = breaching(db, 3)
    spoiled = ids[1]
    escalate = HANDLERS[EscalateBreach]

    def escalate_then_fail(
        acting: Acting, command: EscalateBreach, session: Session | None = None
    ) -> bool:
        done = escalate(acting, command, session)
        if command.ticket_id == spoiled:  # moved on meanwhile, found out after writing
            raise WorkflowError("gone")
        return done

    monkeypatch.setitem(HANDLERS, EscalateBreach, escalate_then_fail)
    assert sweep(db, SETTINGS, late).breaches == 2
    assert [ticket(db, i).escalation_level for i in ids] == [1, 0, 1]
    assert timeline(db, spoiled, "escalation") == []
    assert (
        sorted(told)
        == sorted(notifications(db))
        == [
            ("sue", ids[0], "breach"),
            ("sue", ids[2], "breach"),
        ]
    )
    with db.session() as session:
        assert verify_chain(session).problem is None

    monkeypatch.undo()  # the next pass escalates it, the chain still whole
    assert sweep(db, SETTINGS, late + timedelta(seconds=30)).breaches == 1
    assert ticket(db, spoiled).escalation_level == 1
    with db.session() as session:
        assert verify_chain(session).problem is None


def test_a_closed_ticket_in_a_batch_is_skipped(supervised: Database) -> None:
    db = supervised
    ids, late = breaching(db, 2)
    with db.write() as session:
        session.get_one(Ticket, ids[0]).stage = "closed"
    service = TicketService(db, SETTINGS)
    with service.batch(ids) as batch:
        results = [batch.attempt(partial(service.handle, EscalateBreach(i, at=late))) for i in ids]
    assert results == [None, True]
    assert [ticket(db, i).escalation_level for i in ids] == [0, 1]


def test_notices_of_a_shared_transaction_are_told_once_after_it_commits(
    supervised: Database, told: list[Told]
) -> None:
    db = supervised
    ids, late = breaching(db, 2)
    service = TicketService(db, SETTINGS)
    with db.write() as session:
        assert service.handle(EscalateBreach(ids[0], at=late), session)
        assert service.handle(EscalateBreach(ids[1], at=late), session)
        assert told == []  # not committed yet
    assert told == notifications(db) == [("sue", i, "breach") for i in ids]


def test_notices_of_a_rolled_back_transaction_are_never_told(
    supervised: Database, told: list[Told]
) -> None:
    db = supervised
    ids, late = breaching(db, 1)
    service = TicketService(db, SETTINGS)
    with pytest.raises(RuntimeError), db.write() as session:
        assert service.handle(EscalateBreach(ids[0], at=late), session)
        raise RuntimeError("the caller's own work failed")
    assert told == notifications(db) == []
    assert sweep(db, SETTINGS, late).breaches == 1  # it was never escalated: the sweep does it
    assert told == [("sue", ids[0], "breach")]


@pytest.mark.parametrize(("due", "cap", "transactions"), [(7, 3, 3), (6, 3, 2), (2, 200, 1)])
def test_a_pass_takes_one_write_transaction_per_batch(
    supervised: Database,
    monkeypatch: pytest.MonkeyPatch,
    due: int,
    cap: int,
    transactions: int,
) -> None:
    db = supervised
    monkeypatch.setattr(sweep_module, "BATCH_TICKETS", cap)
    _, late = breaching(db, due)
    sweep(db, SETTINGS, late - timedelta(minutes=2))  # looks at the metrics, marks at risk
    begins: list[int] = []
    event.listen(db.engine, "begin", lambda _connection: begins.append(1))

    def transactions_of_a_pass(at: datetime) -> tuple[int, int]:
        begins.clear()
        report = sweep(db, SETTINGS, at)
        return report.breaches, len(begins)

    handled, with_work = transactions_of_a_pass(late)
    idle, without_work = transactions_of_a_pass(late + timedelta(minutes=1))
    assert (handled, idle) == (due, 0)
    assert with_work - without_work == transactions
    assert len(notifications(db)) == due
