"""Assignment modes: round-robin, least-loaded, skills; away agents skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Queue, Ticket
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.cases import Memory
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.loop.assignment import Assigner, language_of
from cxdesk.workflow.ops.schema import upgrade_database

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def add_team(session: Session) -> None:
    """Three agents of the care team, with their skills, and its supervisor."""
    for login, skills in (("amy", ["zh", "phone"]), ("bob", ["en"]), ("cat", ["zh"])):
        add_agent(
            session,
            login=login,
            display_name=login,
            role="agent",
            teams=["care"],
            skills=skills,
            at=T0,
        )
    add_agent(
        session,
        login="sue",
        display_name="sue",
        role="supervisor",
        teams=["care"],
        skills=[],
        at=T0,
    )


@pytest.fixture
def team(db: Database) -> Database:
    with db.write() as session:
        add_team(session)
    return db


def set_mode(db: Database, mode: str) -> None:
    with db.write() as session:
        session.execute(
            sa.text("UPDATE queues SET assignment = :m WHERE id = 'aftersales'"), {"m": mode}
        )


def open_cases(db: Database, comments: list[str], channel: str | None = None) -> list[str]:
    ingestor = Ingestor(db, Settings(), source="t", clock=lambda: T0)
    events = [
        FeedbackEventIn(
            event_id=f"e{n}",
            kind="complaint",
            occurred_at=T0,
            channel=channel,
            customer=CustomerIn(id=f"c{n}"),
            comment=text,
        )
        for n, text in enumerate(comments)
    ]
    ingestor.run([Record(n + 1, e.model_dump_json()) for n, e in enumerate(events)])
    with db.session() as session:
        return list(session.exec(select(Ticket.assignee).order_by(Ticket.id)))


def test_round_robin_takes_turns_across_batches(team: Database) -> None:
    set_mode(team, "round_robin")
    assert open_cases(team, ["a", "b", "c", "d"]) == ["amy", "bob", "cat", "amy"]


def test_least_loaded_weighs_priority(team: Database) -> None:
    set_mode(team, "least_loaded")
    # The outage (P1, weight 3) goes to amy; each complaint (P2, weight 2) then goes to the
    # lightest: bob (0), cat (0), bob (2, a tie broken by login), cat (2, while amy holds 3).
    assert open_cases(team, ["system is down", "x", "y", "z", "w"]) == [
        "amy",
        "bob",
        "cat",
        "bob",
        "cat",
    ]


def test_skills_match_language_then_load(team: Database) -> None:
    set_mode(team, "skills")
    assert open_cases(team, ["快递晚了", "late parcel", "没有通知", "rude staff"]) == [
        "amy",
        "bob",
        "cat",
        "bob",
    ]


def test_away_agents_are_skipped_and_manual_queues_wait(team: Database) -> None:
    with team.write() as session:
        session.execute(sa.text("UPDATE agents SET away = true WHERE login IN ('amy', 'bob')"))
    set_mode(team, "round_robin")
    assert open_cases(team, ["a", "b"]) == ["cat", "cat"]
    set_mode(team, "manual")
    with team.session() as session:
        queue = session.get_one(Queue, "aftersales")
        assert Assigner(session).pick(queue, priority="P2") is None


def test_language_detection() -> None:
    assert [language_of(t) for t in ("快递晚了", "late", "123", None)] == ["zh", "en", None, None]


def _team_file(path: Path) -> Database:
    """A new SQLite file with the team, its after-sales queue least-loaded."""
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        sync_org(session, Settings())
        add_team(session)
    set_mode(db, "least_loaded")
    return db


def _assigned_in_batches(
    db: Database, feed: list[tuple[str, str]], loads_read: list[str], batch: int = 3
) -> list[str]:
    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "count(" in statement.lower() and "assignee" in statement:
            loads_read.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    events = [
        FeedbackEventIn(
            event_id=f"e{n}",
            kind="complaint",
            occurred_at=T0,
            customer=CustomerIn(id=customer),
            comment=text,
        )
        for n, (customer, text) in enumerate(feed)
    ]
    ingestor = Ingestor(db, Settings(), source="t", clock=lambda: T0, batch_size=batch)
    ingestor.run([Record(n + 1, e.model_dump_json()) for n, e in enumerate(events)])
    sa.event.remove(db.engine, "before_cursor_execute", count)
    with db.session() as session:
        return list(session.exec(select(Ticket.assignee).order_by(Ticket.id)))


def test_a_run_reads_the_loads_once_and_follows_raised_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of one run hand out work by the loads the first one read, kept up since: as
    one event at a time would, a case raised to P1 weighing on its agent at once."""
    feed = [
        *[("c1", "x"), ("c2", "y"), ("c3", "z")],  # P2 each: amy, bob, cat (2, 2, 2)
        *[("c1", "system is down"), ("c4", "a"), ("c5", "b")],  # amy's c1 to P1: 3, 4, 4
        *[("c6", "c"), ("c7", "d"), ("c8", "e")],  # 5, 6, 6
    ]
    kept: list[str] = []
    assigned = _assigned_in_batches(_team_file(tmp_path / "kept.db"), feed, kept)
    one_by_one = _assigned_in_batches(_team_file(tmp_path / "one.db"), feed, [], batch=1)
    monkeypatch.setattr(Memory, "check", lambda memory, _stamp: memory.forget())
    each: list[str] = []
    read_each_batch = _assigned_in_batches(_team_file(tmp_path / "each.db"), feed, each)
    expected = ["amy", "bob", "cat", "bob", "cat", "amy", "bob", "cat"]
    assert assigned == one_by_one == read_each_batch == expected
    assert len(each) == 3 * 3  # each agent's load, in each batch
    assert len(kept) == 3  # in the first batch only
