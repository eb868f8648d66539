"""Shared fixtures: real SQLite files, a real PostgreSQL database, a small demo."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from cxdesk.cli import main
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow.demo import DemoBuilder

PG_ADMIN_URL = os.environ.get(
    "CXDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DEMO_NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No config, database or language from the machine leaks into a test."""
    for name in ("CXDESK_DB", "CXDESK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _pg_reachable() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


_PG_OK = _pg_reachable()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not _PG_OK:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}")
        pytest.skip("no PostgreSQL reachable")
    name = f"cxdesk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An uninitialised database on each backend."""
    if request.param == "sqlite":
        db = Database.open(str(tmp_path / "test.db"), must_exist=False)
    else:
        db = Database.open(request.getfixturevalue("pg_url"), must_exist=False)
    yield db
    db.dispose()


@pytest.fixture
def db(empty_db: Database) -> Database:
    """A database at the head schema with the default teams and queues, on each backend;
    every queue assigns by hand here, so tests claim what they work (auto-assignment has
    tests of its own)."""
    from cxdesk.workflow.org import sync_org

    empty_db.upgrade()
    with empty_db.write() as session:
        sync_org(session, Settings())
        session.execute(sa.text("UPDATE queues SET assignment = 'manual'"))
    return empty_db


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo database, built once; copy it before changing it."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    db = Database.open(str(path), must_exist=False)
    db.upgrade()
    DemoBuilder(db, Settings(), seed=3, now=DEMO_NOW).build(events=600, customers=150)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def demo_copy(demo_file: Path, tmp_path: Path) -> Path:
    target = tmp_path / "demo.db"
    shutil.copy(demo_file, target)
    return target


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI in-process: (exit code, stdout, stderr)."""

    def invoke(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return invoke
