"""The demo builder: deterministic, and made through the workflow."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow.demo.large import build_large
from cxdesk.workflow.demo.small import DemoBuilder
from cxdesk.workflow.ops.schema import upgrade_database
from tests.conftest import DEMO_NOW, Run

DUMP = {
    "tickets": "SELECT id, stage, priority, queue_id, assignee, customer_id, opened_at, "
    "sla_due, version FROM tickets ORDER BY id",
    "timeline": "SELECT ticket_id, at, actor, kind, body FROM timeline_entries ORDER BY id",
    "events": "SELECT event_id, kind, nps, comment FROM feedback_events ORDER BY event_id",
}


def build(path: Path, seed: int) -> dict[str, list]:
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)
    DemoBuilder(db, Settings(), seed=seed, now=DEMO_NOW).build(events=250, customers=60)
    with db.engine.connect() as connection:
        dump = {name: connection.execute(sa.text(sql)).all() for name, sql in DUMP.items()}
    db.dispose()
    return dump


def test_the_same_seed_gives_the_same_database(tmp_path: Path) -> None:
    first = build(tmp_path / "a.db", seed=11)
    assert first["tickets"] and first["timeline"]
    assert build(tmp_path / "b.db", seed=11) == first
    assert build(tmp_path / "c.db", seed=12) != first


def test_every_demo_ticket_is_on_the_audit_log_and_versions_match(demo_file: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{demo_file}")
    with engine.connect() as connection:
        mismatched = connection.execute(
            sa.text(
                "SELECT t.id, t.version, count(a.id) FROM tickets t "
                "LEFT JOIN audit_log a ON a.ticket_id = t.id GROUP BY t.id, t.version "
                "HAVING t.version != count(a.id)"
            )
        ).all()
        alertless = connection.execute(
            sa.text(
                "SELECT count(*) FROM tickets t WHERE t.kind = 'case' AND NOT EXISTS "
                "(SELECT 1 FROM feedback_events e WHERE e.ticket_id = t.id)"
            )
        ).scalar()
    engine.dispose()
    assert mismatched == []  # one audit row per command, opening included
    assert alertless == 0  # every case carries the event that raised it


def test_the_large_builder_writes_consistent_rows(tmp_path: Path) -> None:
    db = Database.open(str(tmp_path / "large.db"), must_exist=False)
    upgrade_database(db)
    summary = build_large(db, Settings(), seed=1, now=DEMO_NOW, tickets=3000, customers=300)
    assert summary.startswith("3,000 tickets")
    with db.engine.connect() as connection:
        stages = dict(
            connection.execute(sa.text("SELECT stage, count(*) FROM tickets GROUP BY stage")).all()
        )
        bad_clock = connection.execute(
            sa.text(
                "SELECT count(*) FROM tickets WHERE stage IN ('new', 'collect', 'analyze', 'fix') "
                "AND sla_due IS NULL"
            )
        ).scalar()
        orphans = connection.execute(
            sa.text(
                "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
                "(SELECT 1 FROM feedback_events e WHERE e.ticket_id = t.id)"
            )
        ).scalar()
        fk_problems = connection.execute(sa.text("PRAGMA foreign_key_check")).all()
        indexed = connection.execute(sa.text("SELECT count(*) FROM ticket_search")).scalar()
        wang = "SELECT count(*) FROM ticket_search WHERE ticket_search MATCH '\"王\"'"
        named = "SELECT count(*) FROM tickets t JOIN customers c ON c.id = t.customer_id"
        assert (
            connection.execute(sa.text(wang)).scalar()
            == connection.execute(
                sa.text(f"{named} WHERE c.name LIKE '%王%' OR t.title LIKE '%王%'")
            ).scalar()
        )
    db.dispose()
    assert indexed == 3000
    assert set(stages) == {"new", "collect", "analyze", "fix", "pending", "verify", "closed"}
    assert bad_clock == 0 and orphans == 0 and fk_problems == []


def test_demo_on_the_default_database_says_that_cxdesk_opens_it(
    demo_sqlite: Path, tmp_path: Path, run: Run
) -> None:
    shutil.copy(demo_sqlite, tmp_path / "cxdesk.db")  # the file `cxdesk` opens from here
    code, _, err = run("demo", "--no-tui")
    assert code == 2 and "already exists: open it with `cxdesk`;" in err
    code, _, err = run("--db", str(demo_sqlite), "demo", "--no-tui")
    assert code == 2 and f"open it with `cxdesk --db {demo_sqlite}`;" in err
