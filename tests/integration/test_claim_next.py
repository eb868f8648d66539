"""Claim-next on both backends: the most urgent unassigned case of the actor's queues, claimed
through the ordinary claim; agents asking at the same moment each get a different ticket."""

from __future__ import annotations

import getpass
import json
import multiprocessing
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import NotFound, PermissionDenied, WorkflowError
from cxdesk.models import AuditEntry, TimelineEntry
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop import claiming
from cxdesk.workflow.loop.desk_commands import Claim, ClaimNext, Note, Resolve
from cxdesk.workflow.loop.service import TicketService

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SETTINGS = Settings()


def agents(db: Database, *logins: str, team: str = "care", role: str = "agent") -> None:
    with db.write() as session:
        for login in logins:
            add_agent(
                session,
                login=login,
                display_name=login,
                role=role,
                teams=[team],
                skills=[],
                at=T0,
            )


def open_cases(db: Database, count: int, *, prefix: str = "c", tier: str = "standard") -> list[int]:
    """`count` cases, one customer each: complaints (P2, aftersales), or gold detractors (P1,
    vip) with `tier="gold"`."""
    ingestor = Ingestor(db, SETTINGS, source="test", clock=lambda: T0)
    ids = []
    for n in range(count):
        fields = {"kind": "complaint"} if tier == "standard" else {"kind": "survey", "nps": 1}
        event = FeedbackEventIn(
            event_id=f"{prefix}{n}",
            occurred_at=T0,
            customer=CustomerIn(id=f"{prefix}{n}", tier=tier),
            **fields,
        )
        ids.append(ingestor.ingest_event(event, "{}").ticket_id)
    return ids


def set_due(db: Database, ticket_id: int, due: datetime | None, priority: str = "P2") -> None:
    with db.write() as session:
        session.execute(
            sa.text("UPDATE tickets SET sla_due = :due, priority = :p WHERE id = :id"),
            {"due": due, "p": priority, "id": ticket_id},
        )


def test_the_nearest_due_then_priority_then_the_oldest(db: Database) -> None:
    agents(db, "ann")
    late, soon, tie_p2, tie_p1, paused = open_cases(db, 5)
    set_due(db, late, T0 + timedelta(hours=9))
    set_due(db, soon, T0 + timedelta(hours=1))
    set_due(db, tie_p2, T0 + timedelta(hours=3))
    set_due(db, tie_p1, T0 + timedelta(hours=3), "P1")
    set_due(db, paused, None)  # a pending clock: last
    ann = TicketService(db, SETTINGS, "ann")
    order = [ann.handle(ClaimNext(at=T0)).id for _ in range(5)]
    assert order == [soon, tie_p1, tie_p2, late, paused]
    with pytest.raises(WorkflowError, match=r"nothing to claim: .*\(aftersales, billing\)"):
        ann.handle(ClaimNext(at=T0))


def test_claim_next_is_an_ordinary_claim(db: Database) -> None:
    agents(db, "ann")
    (tid,) = open_cases(db, 1)
    ticket = TicketService(db, SETTINGS, "ann").handle(ClaimNext(at=T0 + timedelta(minutes=1)))
    assert (ticket.id, ticket.assignee, ticket.stage, ticket.version) == (tid, "ann", "collect", 2)
    with db.session() as session:
        bodies = session.exec(
            select(TimelineEntry.body)
            .where(TimelineEntry.ticket_id == tid)
            .order_by(col(TimelineEntry.id))
        ).all()
        actions = session.exec(
            select(AuditEntry.action, AuditEntry.actor).where(AuditEntry.ticket_id == tid)
        ).all()
    assert bodies[-2:] == ["claimed by ann", "new → collect"]
    assert ("claim", "ann") in actions


def test_only_unassigned_open_cases_of_my_queues(db: Database) -> None:
    agents(db, "ann")
    agents(db, "bob")
    agents(db, "vic", team="vip")
    mine, taken, verifying = open_cases(db, 3)
    (vip,) = open_cases(db, 1, prefix="g", tier="gold")
    bob = TicketService(db, SETTINGS, "bob")
    bob.handle(Claim(taken, at=T0))
    bob.handle(Claim(verifying, at=T0))
    bob.handle(Resolve(verifying, code="fix", root_cause="r", action="a", at=T0))
    with db.write() as session:  # a problem ticket is never handed out by claim-next
        session.execute(sa.text("UPDATE tickets SET kind = 'problem' WHERE id = :i"), {"i": vip})
    (vip_case,) = open_cases(db, 1, prefix="h", tier="gold")
    ann = TicketService(db, SETTINGS, "ann")
    assert ann.handle(ClaimNext(at=T0)).id == mine
    with pytest.raises(WorkflowError, match="nothing to claim"):
        ann.handle(ClaimNext(at=T0))  # the vip case is outside ann's team
    with pytest.raises(PermissionDenied, match="queue vip belongs to team vip"):
        ann.handle(ClaimNext(queue="vip", at=T0))
    with pytest.raises(NotFound, match="no queue 'nope'"):
        ann.handle(ClaimNext(queue="nope", at=T0))
    vic = TicketService(db, SETTINGS, "vic")
    assert vic.handle(ClaimNext(queue="vip", at=T0)).id == vip_case
    with pytest.raises(WorkflowError, match=r"no unassigned open case in queue vip$"):
        vic.handle(ClaimNext(queue="vip", at=T0))


def test_a_queue_narrows_the_pick(db: Database) -> None:
    agents(db, "root", role="admin")
    (care,) = open_cases(db, 1)
    (vip,) = open_cases(db, 1, prefix="g", tier="gold")
    set_due(db, care, T0)  # more urgent than the vip case
    admin = TicketService(db, SETTINGS, "root")
    assert admin.handle(ClaimNext(queue="vip", at=T0)).id == vip
    assert admin.handle(ClaimNext(at=T0)).id == care


def test_a_case_taken_between_the_pick_and_the_claim_is_passed_over(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pick reads outside the write lock: what another agent claimed, or what changed,
    after it read is not taken from them; the next candidate is."""
    agents(db, "ann")
    agents(db, "bob")
    first, second, third = open_cases(db, 3)
    for n, tid in enumerate((first, second, third)):
        set_due(db, tid, T0 + timedelta(hours=n + 1))
    ann = TicketService(db, SETTINGS, "ann")
    bob = TicketService(db, SETTINGS, "bob")
    claim_first = claiming._claim_first

    def meanwhile(acting, candidates, pick, command):
        assert [tid for tid, _ in candidates][:3] == [first, second, third]
        bob.handle(Claim(first, at=T0))  # taken
        bob.handle(Note(second, "still free, but no longer as it was read", at=T0))  # changed
        return claim_first(acting, candidates, pick, command)

    monkeypatch.setattr(claiming, "_claim_first", meanwhile)
    ticket = ann.handle(ClaimNext(at=T0))
    assert (ticket.id, ticket.assignee) == (third, "ann")
    with db.session() as session:
        owners = dict(session.execute(sa.text("SELECT id, assignee FROM tickets")).all())
    assert (owners[first], owners[second]) == ("bob", None)


def test_when_others_took_every_candidate_it_picks_again_under_the_lock(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many times others get there first, a claim fails only when nothing is left."""
    agents(db, "ann")
    agents(db, "bob")
    ids = open_cases(db, 12)
    ann = TicketService(db, SETTINGS, "ann")
    bob = TicketService(db, SETTINGS, "bob")
    claim_first = claiming._claim_first
    picked = []

    def meanwhile(acting, candidates, pick, command):
        picked.append([tid for tid, _ in candidates])
        for tid, _ in candidates:
            bob.handle(Claim(tid, at=T0))
        return claim_first(acting, candidates, pick, command)

    monkeypatch.setattr(claiming, "_claim_first", meanwhile)
    assert ann.handle(ClaimNext(at=T0)).id == ids[10]
    assert picked == [ids[:10]]  # one read outside the lock, one pick inside it
    bob.handle(Claim(ids[11], at=T0))
    with pytest.raises(WorkflowError, match="nothing to claim"):
        ann.handle(ClaimNext(at=T0))


def test_automation_does_not_claim(db: Database) -> None:
    open_cases(db, 1)
    with pytest.raises(WorkflowError, match="not for automation"):
        TicketService(db, SETTINGS).handle(ClaimNext(at=T0))


def test_the_command_line(db: Database, run) -> None:
    agents(db, "ann")
    with db.write() as session:  # --as is honoured for admins: the caller is one
        add_agent(
            session,
            login=getpass.getuser(),
            display_name="me",
            role="admin",
            teams=[],
            skills=[],
            at=T0,
        )
    first, second = open_cases(db, 2)
    set_due(db, second, T0)
    ann = ("--db", db.url, "--as", "ann")
    code, out, err = run(*ann, "ticket", "claim-next", "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["id"], shown["assignee"]) == (f"CX-{second:06d}", "ann")
    code, out, _ = run(*ann, "ticket", "claim-next", "--queue", "aftersales")
    assert code == 0 and out.startswith(
        f"CX-{first:06d} claimed: collect, P2, aftersales, assignee ann"
    )
    code, out, err = run(*ann, "ticket", "claim-next")
    assert code == 2 and out == ""
    assert err == (
        "cxdesk: error: nothing to claim: no unassigned open case in the queues you work "
        "(aftersales, billing)\n"
    )


PROCESSES, TICKETS = 8, 40


def claimer(args: tuple[str, int, Any]) -> list[int]:
    """Agent a<n> claims next until nothing is left, starting when all are ready; the
    tickets it got."""
    url, number, start = args
    db = Database.open(url)
    service = TicketService(db, Settings(), f"a{number}")
    got = []
    start.wait()
    try:
        while True:
            try:
                got.append(service.handle(ClaimNext(at=T0)).id)
            except WorkflowError as exc:
                assert "nothing to claim" in str(exc), exc
                return got
    finally:
        db.dispose()


def test_agents_claiming_at_once_get_distinct_tickets(db: Database) -> None:
    agents(db, *(f"a{n}" for n in range(PROCESSES)))
    ids = open_cases(db, TICKETS)
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, spawn.Pool(PROCESSES) as pool:
        start = manager.Barrier(PROCESSES)
        results = pool.map(claimer, [(db.url, n, start) for n in range(PROCESSES)])
    claimed = [tid for got in results for tid in got]
    assert sorted(claimed) == sorted(ids)  # every ticket handed out, none twice
    assert sum(1 for got in results if got) > 1  # the work was really shared
    with db.session() as session:
        claims = Counter(
            session.execute(
                sa.text("SELECT ticket_id FROM timeline_entries WHERE body LIKE 'claimed by %'")
            ).scalars()
        )
        owners = dict(session.execute(sa.text("SELECT id, assignee FROM tickets")).all())
    assert claims == Counter(ids)
    for n, got in enumerate(results):
        assert all(owners[tid] == f"a{n}" for tid in got)
