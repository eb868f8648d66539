"""The database layer on real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex
from sqlmodel import SQLModel, col, func, select

import cxdesk.db.database as database_module
import cxdesk.db.engine as engine_module
from cxdesk.db import (
    COPY_MIN_ROWS,
    Database,
    current_revision,
    head_revision,
    insert_rows,
    newest_migration,
    resolve_url,
)
from cxdesk.db.search_index import not_search_table
from cxdesk.errors import DatabaseError
from cxdesk.models import Customer, Meta
from cxdesk.models.base import UTCDateTime
from cxdesk.workflow.ops.schema import upgrade_database
from tests.conftest import DEMO_ADMIN

FIRST_REVISION = "0001"
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_upgrade_is_idempotent_and_matches_the_models(empty_db: Database) -> None:
    upgrade_database(empty_db)
    upgrade_database(empty_db)
    # The file names name the head too: opening an up-to-date database reads only those.
    assert current_revision(empty_db.engine) == head_revision() == newest_migration()
    with empty_db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": not_search_table})
        drift = compare_metadata(context, SQLModel.metadata)
    assert drift == [], "models and migrations disagree; add a migration"
    empty_db.check_schema()


def test_the_models_partial_indexes_are_the_migrations(empty_db: Database) -> None:
    """A partial index keeps its condition until the migrations' environment hands it to
    both dialects (importing PostgreSQL's costs a command on SQLite): once migrations have
    run, the models' partial indexes are those the migrations made, on either backend."""
    upgrade_database(empty_db)
    dialect = empty_db.engine.dialect
    modelled = {
        index.name
        for table in SQLModel.metadata.tables.values()
        for index in table.indexes
        if " WHERE " in str(CreateIndex(index).compile(dialect=dialect))
    }
    stored_partial = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
        if empty_db.is_sqlite
        else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND indexdef LIKE '% WHERE %'"
    )
    with empty_db.engine.connect() as connection:
        stored = set(connection.execute(sa.text(stored_partial)).scalars())
    assert len(stored) >= 7 and modelled == stored
    if empty_db.is_sqlite:
        # Term for term, as SQLite keeps them: a query repeating the model's condition uses a
        # partial index only if the migration wrote the same one (a stage added to one and
        # not the other would leave the index unused without any error).
        with empty_db.engine.connect() as connection:
            listed = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master")
            made = {name: sql for name, sql in listed}
        for table in SQLModel.metadata.tables.values():
            for index in table.indexes:
                model = str(CreateIndex(index).compile(dialect=dialect))
                assert " ".join(made[index.name].split()) == " ".join(model.split())


def _rows_at_first_revision() -> dict[str, list[dict]]:
    """One or more rows for every table that exists at the first migration."""
    t = T0.replace(tzinfo=None)
    return {
        "agents": [
            {
                "login": "ann",
                "display_name": "Ann",
                "role": "agent",
                "skills": '["zh"]',
                "away": False,
                "active": True,
                "created_at": t,
            }
        ],
        "teams": [{"id": "care", "name": "Care", "supervisor": "ann"}],
        "agent_teams": [{"agent_login": "ann", "team_id": "care"}],
        "queues": [
            {
                "id": "q",
                "name": "Q",
                "team_id": "care",
                "calendar": "24x7",
                "policy": "default",
                "assignment": "manual",
            }
        ],
        "meta": [{"key": "demo", "value": "false"}],
        "customers": [
            {
                "id": "c1",
                "name": "王芳",
                "phone": "13800000000",
                "email": "w@x.cn",
                "tier": "gold",
                "attributes": "{}",
                "created_at": t,
                "updated_at": t,
            }
        ],
        "tickets": [
            {
                "id": 1,
                "kind": "case",
                "stage": "collect",
                "priority": "P1",
                "queue_id": "q",
                "assignee": "ann",
                "customer_id": "c1",
                "rule": "r",
                "title": "broken",
                "tags": "[]",
                "opened_at": t,
                "updated_at": t,
                "escalation_level": 1,
                "reopen_count": 0,
                "version": 3,
                "first_response_due": t + timedelta(hours=2),
            }
        ],
        "feedback_events": [
            {
                "event_id": "e1",
                "kind": "survey",
                "occurred_at": t,
                "received_at": t,
                "customer_id": "c1",
                "nps": 2,
                "drivers": "[]",
                "ticket_id": 1,
                "raw": '{"event_id": "e1"}',
                "comment": "坏了",
            }
        ],
        "timeline_entries": [
            {
                "id": 1,
                "ticket_id": 1,
                "at": t,
                "actor": "ann",
                "kind": "note",
                "body": "called",
                "event_id": "e1",
                "data": "{}",
            }
        ],
        "ticket_links": [],
        "followups": [
            {
                "id": 1,
                "ticket_id": 1,
                "status": "scheduled",
                "template": "default",
                "send_at": t,
                "expires_at": t + timedelta(days=7),
            }
        ],
        "audit_log": [
            {  # its id from the sequence: the upgrade appends to the chain
                "at": t,
                "actor": "ann",
                "action": "note",
                "ticket_id": 1,
                "detail": "{}",
                "digest": "x",
            }
        ],
    }


def test_upgrade_from_the_first_migration_keeps_every_row(empty_db: Database) -> None:
    empty_db.upgrade(FIRST_REVISION)
    rows = _rows_at_first_revision()
    with empty_db.engine.begin() as connection:
        tables = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
        assert tables == set(rows), "every table of the first revision gets test rows"
        metadata = sa.MetaData()
        metadata.reflect(connection)
        for name, table_rows in rows.items():
            for row in table_rows:
                connection.execute(metadata.tables[name].insert().values(**row))
    upgrade_database(empty_db)
    with empty_db.engine.connect() as connection:
        for name, table_rows in rows.items():
            count = connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
            keyed = name == "audit_log"  # the upgrade keys the chain: its marker row is added
            assert count == len(table_rows) + keyed, name
        last = sa.text("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")
        assert connection.execute(last).scalar() == "audit-key"
        title, version = connection.execute(sa.text("SELECT title, version FROM tickets")).one()
        assert (title, version) == ("broken", 3)
        key = "ticket_id" if connection.dialect.name == "postgresql" else "rowid"
        assert connection.execute(sa.text(f"SELECT {key} FROM ticket_search")).scalar() == 1
        assert connection.execute(sa.text("SELECT comment FROM feedback_events")).scalar() == "坏了"
        # Every follow-up gets a reply token; one of a ticket no longer in verify is not due.
        token, due = connection.execute(
            sa.text("SELECT reply_token, next_attempt_at FROM followups")
        ).one()
        assert len(token) == 32 and due is None


def test_a_database_newer_than_the_code_is_refused(empty_db: Database) -> None:
    upgrade_database(empty_db)
    with empty_db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(DatabaseError, match="newer than this cxdesk"):
        empty_db.check_schema()
    with pytest.raises(DatabaseError, match="newer than this cxdesk"):
        upgrade_database(empty_db)


def test_an_older_database_asks_for_an_upgrade(empty_db: Database) -> None:
    empty_db.upgrade(FIRST_REVISION)
    with pytest.raises(DatabaseError, match="cxdesk db upgrade"):
        empty_db.check_schema()


def test_an_empty_database_asks_for_init(empty_db: Database) -> None:
    with pytest.raises(DatabaseError, match="cxdesk init"):
        empty_db.check_schema()


def test_a_missing_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(DatabaseError, match="no database at"):
        Database.open(str(path))
    assert not path.exists()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database.open(str(tmp_path / "w.db"), must_exist=False)
    upgrade_database(db)
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    with pytest.raises(sa.exc.IntegrityError), db.session() as session:
        session.execute(
            sa.text("INSERT INTO agent_teams (agent_login, team_id) VALUES ('nobody', 'none')")
        )


def test_times_come_back_aware_and_equal(db: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    moment = datetime(2026, 2, 14, 17, 0, tzinfo=shanghai)
    with db.write() as session:
        session.add(Customer(id="c", created_at=moment, updated_at=moment))
    with db.session() as session:
        stored = session.get_one(Customer, "c").created_at
    assert stored == moment
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)


# What the text format of PostgreSQL's COPY escapes, or would misread were it not escaped.
AWKWARD_TEXT = ("tab\there", "two\nlines\r\n", "back\\slash", "\\N", "", "引号\"'", "\u202eAB 🙂")


def awkward_customers(count: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"c{n}",
            "name": AWKWARD_TEXT[n % len(AWKWARD_TEXT)],
            "phone": None,
            "tier": "gold" if n % 2 else None,
            "attributes": {"note": AWKWARD_TEXT[-n % len(AWKWARD_TEXT)], "n": [n, None]},
            "created_at": T0 + timedelta(microseconds=n),
            "updated_at": T0.astimezone(timezone(timedelta(hours=8))),
        }
        for n in range(count)
    ]


def inserts_sent(db: Database) -> list[str]:
    """The INSERT statements SQLAlchemy sends from now on (a COPY goes past it)."""
    sent: list[str] = []
    sa.event.listen(
        db.engine,
        "before_cursor_execute",
        lambda _c, _cursor, statement, *_: (
            sent.append(statement) if statement.startswith("INSERT") else None
        ),
    )
    return sent


@pytest.mark.parametrize("count", [COPY_MIN_ROWS - 1, COPY_MIN_ROWS * 5])
def test_rows_written_in_bulk_read_back_exactly(db: Database, count: int) -> None:
    """Below COPY_MIN_ROWS rows are inserted; from it, PostgreSQL gets a COPY."""
    rows = awkward_customers(count)
    sent = inserts_sent(db)
    with db.write() as session:
        insert_rows(session.connection(), Customer.__table__, rows)  # type: ignore[arg-type]
    copied = not db.is_sqlite and count >= COPY_MIN_ROWS
    assert len(sent) == (0 if copied else 1)
    with db.session() as session:
        stored = session.exec(select(Customer).order_by(col(Customer.created_at))).all()
        read = [customer.model_dump(include=set(rows[0])) for customer in stored]
    assert read == rows


@pytest.mark.parametrize("count", [COPY_MIN_ROWS - 1, COPY_MIN_ROWS * 5])
def test_a_bulk_write_that_breaks_a_constraint_fails_as_sqlalchemy_says(
    db: Database, count: int
) -> None:
    """The command line turns SQLAlchemy's errors into one line; a COPY's must be the same."""
    rows = awkward_customers(count)
    rows[-1]["id"] = rows[0]["id"]
    with pytest.raises(sa.exc.IntegrityError), db.write() as session:
        insert_rows(session.connection(), Customer.__table__, rows)  # type: ignore[arg-type]
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(Customer)).one() == 0


def test_urls_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url("x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("CXDESK_DB", str(tmp_path / "env.db"))
    assert resolve_url(None).endswith("env.db")
    assert resolve_url("cli.db").endswith("cli.db")  # --db wins over the environment
    with pytest.raises(DatabaseError, match="not a valid database URL"):
        resolve_url("://nonsense")


def test_an_online_backup_restores_while_writes_go_on(tmp_path: Path, run) -> None:
    import threading

    from cxdesk.config import Settings
    from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
    from cxdesk.workflow.intake.ingest import Ingestor

    live = tmp_path / "live.db"
    run("--db", str(live), "init")
    db = Database.open(str(live))
    ingestor = Ingestor(db, Settings(), source="t", clock=lambda: T0)
    stop, writing = threading.Event(), threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            if n == 4:
                writing.set()  # some rows are in: the backup below is taken mid-stream
            ingestor.ingest_event(
                FeedbackEventIn(
                    event_id=f"w{n}",
                    kind="complaint",
                    occurred_at=T0,
                    customer=CustomerIn(id=f"c{n}"),
                ),
                "{}",
            )

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert writing.wait(timeout=30)
        code, out, _ = run("--db", str(live), "backup", str(tmp_path / "copy.db"))
    finally:
        stop.set()
        writer.join()
    assert code == 0 and "integrity ok" in out
    restored = Database.open(str(tmp_path / "copy.db"))
    restored.check_schema()
    with restored.engine.connect() as connection:
        events = connection.execute(sa.text("SELECT count(*) FROM feedback_events")).scalar()
        orphans = connection.execute(
            sa.text(
                "SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM feedback_events e "
                "WHERE e.ticket_id = t.id)"
            )
        ).scalar()
    assert events > 0 and orphans == 0  # a consistent instant: no ticket without its event
    code, _, err = run("--db", str(live), "backup", str(tmp_path / "copy.db"))
    assert code == 2 and "already exists" in err


def test_database_files_are_group_shared_never_world_readable(tmp_path: Path, run) -> None:
    import stat

    path = tmp_path / "shared.db"
    run("--db", str(path), "init")
    run("--db", str(path), "ticket", "list")
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            mode = stat.S_IMODE(name.stat().st_mode)
            assert mode & 0o007 == 0, f"{name.name} is {oct(mode)}"
            assert mode & 0o060 == 0o060, f"{name.name} is {oct(mode)}"


def test_moving_a_team_from_sqlite_to_postgresql(demo_sqlite: Path, pg_url: str, run) -> None:
    code, out, err = run("--db", str(demo_sqlite), "--as", DEMO_ADMIN, "db", "copy", "--to", pg_url)
    assert code == 0 and out.startswith("copied ") and "tickets: " in err
    source = sa.create_engine(f"sqlite:///{demo_sqlite}")
    target = sa.create_engine(pg_url)
    with source.connect() as a, target.connect() as b:
        for table in ("tickets", "timeline_entries", "feedback_events", "audit_log", "agents"):
            query = sa.text(f"SELECT count(*) FROM {table}")
            assert a.execute(query).scalar() == b.execute(query).scalar(), table
    with target.connect() as b:  # analyzed: -1 rows would mean never
        estimate = sa.text("SELECT reltuples FROM pg_class WHERE relname = 'tickets'")
        assert b.execute(estimate).scalar() > 0
        indexed = sa.text("SELECT count(*) FROM ticket_search")  # made from the copied tickets
        assert (
            b.execute(indexed).scalar()
            == b.execute(sa.text("SELECT count(*) FROM tickets")).scalar()
        )
    source.dispose()
    target.dispose()
    assert run("--db", pg_url, "--as", DEMO_ADMIN, "audit", "verify")[1].startswith("OK: ")
    listed = run("--db", pg_url, "ticket", "list", "--format", "json", "--limit", "5")
    assert listed[0] == 0
    from cxdesk.config import Settings
    from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
    from cxdesk.workflow.intake.ingest import Ingestor

    db = Database.open(pg_url)
    new = Ingestor(db, Settings(), source="t", clock=lambda: T0).ingest_event(
        FeedbackEventIn(
            event_id="after-move",
            kind="complaint",
            occurred_at=T0,
            customer=CustomerIn(id="someone-new"),
        ),
        "{}",
    )
    assert new.ticket_id is not None  # the sequences moved past the copied ids
    db.dispose()
    code, _, err = run("--db", str(demo_sqlite), "--as", DEMO_ADMIN, "db", "copy", "--to", pg_url)
    assert code == 2 and "already holds" in err


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_writer_outwaits_a_lock_held_past_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 100)
    db = Database.open(str(tmp_path / "busy.db"), must_exist=False)
    upgrade_database(db)
    holder = _hold_write_lock(tmp_path / "busy.db")
    release = threading.Timer(0.8, lambda: holder.execute("COMMIT"))
    release.start()
    with db.write() as session:  # several busy timeouts go by before the lock is free
        session.add(Meta(key="k", value="v"))
    release.join()
    with db.session() as session:
        assert session.get_one(Meta, "k").value == "v"


def test_a_lock_that_is_never_released_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(database_module, "WRITE_LOCK_ATTEMPTS", 2)
    db = Database.open(str(tmp_path / "busy.db"), must_exist=False)
    upgrade_database(db)
    holder = _hold_write_lock(tmp_path / "busy.db")
    ran = False
    with pytest.raises(DatabaseError, match="another writer has held the database"), db.write():
        ran = True
    assert not ran  # the block never started: nothing half done
    holder.execute("ROLLBACK")


_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-9, minutes=-30))]
)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30), timezones=_ZONES)
)
def test_an_instant_is_stored_as_utc_text_and_read_back_the_same(value: datetime) -> None:
    dialect = sqlite.dialect()
    column = UTCDateTime()
    text = column.bind_processor(dialect)(value)
    assert text == value.astimezone(UTC).isoformat(" ", "microseconds")[:26]
    assert column.result_processor(dialect, None)(text) == value
