"""The two backends agree: the same demo, built through the same commands on SQLite and on
PostgreSQL, gives the same tickets, timelines and audit chain."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.conftest import engine_for, pg_database_url

QUERIES = {
    "tickets": "SELECT id, kind, stage, priority, queue_id, assignee, customer_id, "
    "escalation_level, version FROM tickets ORDER BY id",
    "timeline": "SELECT ticket_id, actor, kind, body FROM timeline_entries ORDER BY id",
    "audit": "SELECT id, actor, action, ticket_id FROM audit_log ORDER BY id",
}


def rows(target: str) -> dict[str, list[tuple]]:
    engine = engine_for(target)
    try:
        with engine.connect() as connection:
            return {
                name: [tuple(row) for row in connection.execute(sa.text(sql))]
                for name, sql in QUERIES.items()
            }
    finally:
        engine.dispose()  # a template database must have nobody connected when it is copied


def test_the_demo_comes_out_the_same_on_both_backends(
    demo_file: Path, pg_demo_template: str
) -> None:
    on_sqlite = rows(str(demo_file))
    on_postgres = rows(pg_database_url(pg_demo_template))
    assert len(on_sqlite["tickets"]) > 100
    for name in QUERIES:
        assert on_postgres[name] == on_sqlite[name], name
