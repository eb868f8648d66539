"""Twenty processes, a hundred mixed commands each, on the same tickets, on both backends:
every command applies or is refused by name, the timeline holds exactly the applied ones,
no 'database is locked' reaches anyone, and each ticket is claimed once."""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import CxdeskError
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop.desk_commands import Assign, Claim, Escalate, Note, Respond
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.ops.schema import upgrade_database

PROCESSES, COMMANDS, TICKETS = 20, 100, 8
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
# What the workers import, named one by one (a server started under pytest cannot import this
# module by its name), with what the commands import on their first use
PRELOAD = ["pytest", "cxdesk.workflow.loop.service", "cxdesk.workflow.intake.ingest", "holidays"]


def worker(args: tuple[str, int]) -> list[tuple[str, int, str]]:
    """Run COMMANDS random commands as agent a<n>; report (outcome, ticket, marker)."""
    url, number = args
    db = Database.open(url)
    rng = random.Random(number)
    service = TicketService(db, Settings(), f"a{number}")
    sue = TicketService(db, Settings(), "sue")
    results = []
    for step in range(COMMANDS):
        ticket_id = rng.randrange(1, TICKETS + 1)
        marker = f"p{number}-s{step}"
        with db.session() as session:
            version = session.execute(
                sa.text("SELECT version FROM tickets WHERE id = :i"), {"i": ticket_id}
            ).scalar()
        kind = rng.choice(["claim", "note", "note", "respond", "escalate", "assign"])
        try:
            match kind:
                case "claim":
                    service.handle(Claim(ticket_id, version=version, at=T0))
                case "note":
                    service.handle(Note(ticket_id, marker, version=version, at=T0))
                case "respond":
                    service.handle(Respond(ticket_id, marker, version=version, at=T0))
                case "escalate":
                    service.handle(Escalate(ticket_id, marker, version=version, at=T0))
                case "assign":
                    sue.handle(
                        Assign(ticket_id, f"a{rng.randrange(PROCESSES)}", version=version, at=T0)
                    )
            results.append(("applied:" + kind, ticket_id, marker))
        except CxdeskError as exc:  # stale version, illegal step, already assigned: named
            results.append(("refused:" + type(exc).__name__, ticket_id, marker))
    db.dispose()
    return results


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_twenty_processes_hundred_commands(
    backend: str, tmp_path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'race.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    db = Database.open(url, must_exist=False)
    upgrade_database(db)
    from cxdesk.workflow.access.org import sync_org

    with db.write() as session:
        sync_org(session, Settings())
        session.execute(sa.text("UPDATE queues SET assignment = 'manual'"))
        for n in range(PROCESSES):
            add_agent(
                session,
                login=f"a{n}",
                display_name=f"a{n}",
                role="agent",
                teams=["care"],
                skills=[],
                at=T0,
            )
        add_agent(
            session,
            login="sue",
            display_name="Sue",
            role="supervisor",
            teams=["care"],
            skills=[],
            at=T0,
        )
    ingestor = Ingestor(db, Settings(), source="t", clock=lambda: T0)
    for n in range(TICKETS):
        ingestor.ingest_event(
            FeedbackEventIn(
                event_id=f"e{n}", kind="complaint", occurred_at=T0, customer=CustomerIn(id=f"c{n}")
            ),
            "{}",
        )
    # Forked from a server that imported what the commands need once: twenty processes each
    # importing it anew spent more than half the test's time doing so.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with context.Pool(PROCESSES) as pool:
        outcomes = [r for rs in pool.map(worker, [(url, n) for n in range(PROCESSES)]) for r in rs]
    assert len(outcomes) == PROCESSES * COMMANDS
    kinds = Counter(outcome.split(":")[0] for outcome, _, _ in outcomes)
    assert kinds["applied"] > 0 and set(kinds) <= {"applied", "refused"}
    refusals = {outcome for outcome, _, _ in outcomes if outcome.startswith("refused")}
    assert refusals <= {
        "refused:StaleVersion",
        "refused:WorkflowError",
        "refused:PermissionDenied",
        "refused:NotFound",
    }
    with db.session() as session:
        bodies = Counter(
            session.execute(
                sa.text("SELECT body FROM timeline_entries WHERE actor != 'cxdesk'")
            ).scalars()
        )
        claims = Counter(
            session.execute(
                sa.text("SELECT ticket_id FROM timeline_entries WHERE body LIKE 'claimed by %'")
            ).scalars()
        )
        versions = dict(session.execute(sa.text("SELECT id, version FROM tickets")).all())
        audits = Counter(session.execute(sa.text("SELECT ticket_id FROM audit_log")).scalars())
    written = Counter()
    for body, n in bodies.items():
        marker = body.rsplit(": ", 1)[-1]  # notes and replies are the marker; escalations end in it
        if marker.startswith("p") and "-s" in marker:
            written[marker] += n
    recorded = {"applied:note", "applied:respond", "applied:escalate"}
    applied = {marker for outcome, _, marker in outcomes if outcome in recorded}
    assert set(written) == applied  # every applied command is there, no refused one is
    assert all(n == 1 for n in written.values())  # and once
    assert all(n == 1 for n in claims.values())  # exactly one winner per ticket's claim
    assert versions == {ticket: audits[ticket] for ticket in versions}  # one audit row a change
    db.dispose()
