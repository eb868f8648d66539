"""Shared fixtures: real SQLite files, a real PostgreSQL database, a small demo.

Whatever reaches the database through cxdesk runs on both backends: `db`, `empty_db`,
`new_db` and `demo_copy` are parametrized over SQLite and PostgreSQL (`backend`), so the
service, CLI and TUI tests each run twice. Tests about the SQLite file itself take
`demo_sqlite`, `demo_file` or a path of their own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

from cxdesk.cli import main
from cxdesk.config import Settings
from cxdesk.db import Database, default_key_file, resolve_url
from cxdesk.db.checkpoint import truncate_log
from cxdesk.workflow.demo.small import DemoBuilder
from cxdesk.workflow.ops.schema import upgrade_database
from tests.pg_copies import PgCopies

PG_ADMIN_URL = os.environ.get(
    "CXDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DEMO_NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# In CI the property tests draw the same examples every run, so that what lands is judged on
# the change, not on a rare draw; run here, they draw anew each time and find the rare case.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
DEMO_ADMIN = "zhou.min"  # the demo's admin (whoever builds it is a supervisor there)
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No config, database, language or terminal size from the machine (or from the test
    runner: parallel workers set COLUMNS and LINES, which a program in tmux would take for
    its terminal's size) leaks into a test."""
    for name in ("CXDESK_DB", "CXDESK_CONFIG", "CXDESK_GROUP", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True, scope="session")
def _audit_keys_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """PostgreSQL databases' audit keys go to a directory of the test run, not the home's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        yield


def copy_audit_key(source: str, target: str) -> None:
    """Give the database `target` (a copy of `source`, file or URL) the source's audit key."""
    key = default_key_file(resolve_url(source))
    assert key is not None
    destination = default_key_file(resolve_url(target))
    assert destination is not None
    shutil.copy(key, destination)


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


def _require_pg() -> None:
    if not _PG_OK:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}")
        pytest.skip("no PostgreSQL reachable")


_PG_COPIES = PgCopies(PG_ADMIN_URL)


@pytest.fixture(autouse=True, scope="session")
def _pg_copies_dropped() -> Iterator[None]:
    """The copies kept for the next test are dropped when the run ends."""
    yield
    if _PG_OK:
        _PG_COPIES.close()


@contextmanager
def _pg_database(template: str | None = None) -> Iterator[str]:
    """A PostgreSQL database of its own (empty, or a copy of `template`), handed back after
    the test: dropped, or kept for the next one once made like the template again."""
    _require_pg()
    name = _PG_COPIES.take(template)
    try:
        yield pg_database_url(name)
    finally:
        _PG_COPIES.give_back(name, template)


def pg_database_url(name: str) -> str:
    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def engine_for(target: str) -> sa.Engine:
    """A plain engine on a `--db` value (file path or URL), for a test's own SQL."""
    return sa.create_engine(resolve_url(target))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    with _pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test on SQLite and on PostgreSQL."""
    return request.param


@pytest.fixture
def new_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """What to pass as `--db` for a database `cxdesk init` has yet to set up, on each backend:
    a file path in the test's directory, or the URL of an empty PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "cxdesk.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def empty_db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An uninitialised database on each backend."""
    if backend == "sqlite":
        db = Database.open(str(tmp_path / "test.db"), must_exist=False)
    else:
        db = Database.open(request.getfixturevalue("pg_url"), must_exist=False)
    yield db
    db.dispose()


def _prepare(url: str, fill: Callable[[Database], object] = lambda _db: None) -> None:
    """Migrate the database at `url` to the head schema, `fill` it and close it: an SQLite
    file with its log folded in, so that a plain copy holds it all; a PostgreSQL database
    with nobody connected, as a template must be while it is copied."""
    db = Database.open(url, must_exist=False)
    upgrade_database(db)
    fill(db)
    if db.is_sqlite:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()


@contextmanager
def _copy_of(
    file: str, template: str, backend: str, request: pytest.FixtureRequest, target: Path
) -> Iterator[str]:
    """A fresh copy, with its audit key, of a database made once per run (the session
    fixture `file` on SQLite, `template` on PostgreSQL), as `--db` takes it."""
    if backend == "sqlite":
        yield str(_copied(request.getfixturevalue(file), target))
        return
    with _pg_copy(request.getfixturevalue(template)) as url:
        yield url


def _copied(source: Path, target: Path) -> Path:
    """`target`, a copy of the SQLite file `source` with its audit key."""
    shutil.copy(source, target)
    copy_audit_key(str(source), str(target))
    return target


@contextmanager
def _pg_copy(template: str) -> Iterator[str]:
    """The URL of a copy of the PostgreSQL database `template`, with its audit key."""
    with _pg_database(template=template) as url:
        copy_audit_key(pg_database_url(template), url)
        yield url


def _pg_template(prepare: Callable[[str], object]) -> Iterator[str]:
    """For a session fixture: the name of a PostgreSQL database `prepare` set up once."""
    with _pg_database() as url:
        prepare(url)
        yield sa.engine.make_url(url).database


def _small_demo(db: Database) -> None:
    DemoBuilder(db, Settings(), seed=3, now=DEMO_NOW).build(events=600, customers=150)


@pytest.fixture(scope="session")
def schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database at the head schema, migrated once; copy it before changing it."""
    path = tmp_path_factory.mktemp("schema") / "schema.db"
    _prepare(str(path))
    return path


@pytest.fixture(scope="session")
def pg_schema_template() -> Iterator[str]:
    """A PostgreSQL database at the head schema, migrated once, as a template to copy from."""
    yield from _pg_template(_prepare)


@pytest.fixture
def db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at the head schema with the default teams and queues, on each backend
    (a copy of one migrated once per run: every test migrating its own took most of its
    time); every queue assigns by hand here, so tests claim what they work (auto-assignment
    has tests of its own)."""
    from cxdesk.workflow.access.org import sync_org

    with ExitStack() as stack:
        copy = _copy_of("schema_file", "pg_schema_template", backend, request, tmp_path / "test.db")
        database = Database.open(stack.enter_context(copy))
        stack.callback(database.dispose)
        with database.write() as session:
            sync_org(session, Settings())
            session.execute(sa.text("UPDATE queues SET assignment = 'manual'"))
        yield database


def _cli_init(url: str) -> None:
    """`cxdesk init` on `url`, as a user runs it."""
    with pytest.raises(SystemExit) as exited:
        main(["--db", url, "init"])
    assert exited.value.code == 0


@pytest.fixture(scope="session")
def init_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database `cxdesk init` set up, once; copy it before changing it."""
    path = tmp_path_factory.mktemp("init") / "init.db"
    _cli_init(str(path))
    truncate_log(path)
    return path


@pytest.fixture(scope="session")
def pg_init_template() -> Iterator[str]:
    """The same on PostgreSQL, as a template database to copy from."""
    yield from _pg_template(_cli_init)


@pytest.fixture
def initialised(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """What to pass as `--db` for a database `cxdesk init` set up, on each backend: a copy of
    one set up once per run (each test running the migrations took most of its time)."""
    with _copy_of("init_file", "pg_init_template", backend, request, tmp_path / "cxdesk.db") as db:
        yield db


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo database, built once; copy it before changing it."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    _prepare(str(path), _small_demo)
    return path


@pytest.fixture(scope="session")
def pg_demo_template() -> Iterator[str]:
    """The same small demo built on PostgreSQL once, as a template database to copy from."""
    yield from _pg_template(lambda url: _prepare(url, _small_demo))


@pytest.fixture
def demo_copy(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh copy of the small demo on each backend, as `--db` takes it: the path of an
    SQLite file, or the URL of a PostgreSQL database."""
    if backend == "sqlite":
        yield str(request.getfixturevalue("demo_sqlite"))
        return
    with _pg_copy(request.getfixturevalue("pg_demo_template")) as url:
        yield url


@pytest.fixture
def demo_sqlite(demo_file: Path, tmp_path: Path) -> Path:
    """A fresh copy of the small demo as an SQLite file, for tests about the file itself."""
    return _copied(demo_file, tmp_path / "demo.db")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI in-process: (exit code, stdout, stderr)."""

    def invoke(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return invoke
