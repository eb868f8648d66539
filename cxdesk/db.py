"""Engine, sessions, SQLite pragmas and the migration runner.

The schema is created and changed only by the Alembic migrations in
`cxdesk/migrations`; nothing here calls `create_all`.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Compiled,
    Connection,
    Dialect,
    Engine,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import SessionTransaction, sessionmaker
from sqlalchemy.types import TypeEngine
from sqlmodel import Session

from cxdesk.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

DEFAULT_DB = "cxdesk.db"
_SQLITE_BEGIN = "cxdesk_sqlite_begin"
_NO_AUTOCHECKPOINT = "cxdesk_no_autocheckpoint"
_CONNECTION_TOKEN = "cxdesk_connection_token"
_CHECKOUTS = "cxdesk_checkouts"
SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_LOCK_ATTEMPTS = 6  # each waits up to the busy timeout, then backs off
SHARED_FILE_MODE = 0o660
AUDIT_KEY_BYTES = 32


def resolve_url(db: str | None = None) -> str:
    """Turn `--db`, `CXDESK_DB` or the default into an SQLAlchemy URL.

    A value containing `://` is taken as a URL; anything else is a file path.
    """
    value = db or os.environ.get("CXDESK_DB") or DEFAULT_DB
    if "://" in value:
        try:
            make_url(value)
        except ArgumentError as exc:
            raise DatabaseError(f"--db: not a valid database URL: {value}") from exc
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for other backends and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


# sqlite3 sends each None it binds through its adaptation protocol, which looks for
# `PrepareProtocol.__adapt__` and so raises and clears an AttributeError every time (~0.3 us;
# ingest binds half a dozen Nones an event). An adapter registered for None is found first:
# this one, a C method (a lookup in an empty dict), hands None back, bound as NULL as before.
sqlite3.register_adapter(type(None), {}.get)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MB of page cache: a batch of thousands of rows touches many index pages at once.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def group_id(group: str) -> int:
    """The id of the Unix group named `group` (or given by number)."""
    import grp

    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise DatabaseError(
            f"unknown group {group!r}: no such Unix group here (see [database] group in the "
            "config, or CXDESK_GROUP)"
        ) from None


def _share_with_group(path: Path, gid: int | None = None, group: str | None = None) -> None:
    """Team members share the file through its group: read-write for them, nothing for others.

    SQLite gives the -wal and -shm files the database file's mode, but whoever opens the
    database first after everyone closed it creates them afresh, in their own primary group
    (unless the directory is setgid): so with a configured group, each of the three files
    this process owns is given to it.
    """
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            info = name.stat()
        except FileNotFoundError:
            continue
        if info.st_uid != os.geteuid() and os.geteuid() != 0:
            continue  # someone else's file: its owner set it up
        try:
            if info.st_mode & 0o777 != SHARED_FILE_MODE:
                name.chmod(SHARED_FILE_MODE)
            if gid is not None and info.st_gid != gid:
                os.chown(name, -1, gid)
        except PermissionError as exc:
            if gid is not None and info.st_gid != gid:
                raise DatabaseError(
                    f"cannot give {name} to group {group}: {exc.strerror} (are you a member of it?)"
                ) from None


class _Checkpointer:
    """Copies committed write-ahead log into an SQLite file in a thread of its own.

    The connections that write in bulk are exempted from checkpointing at commit
    (`wal_autocheckpoint=0`) until they go back to the pool. A PASSIVE checkpoint waits for
    no one and lets the writer go on, and sqlite3 releases the GIL while it runs.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wake = threading.Event()
        self._stopping = False
        self._connection: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def exempt(self, connection: Connection) -> None:
        connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        connection.connection.info[_NO_AUTOCHECKPOINT] = True  # undone at check-in

    def nudge(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """End the thread, cutting short the checkpoint it may be running: the log is safe
        where it is, and the next checkpoint (any connection's) copies the rest."""
        self._stopping = True
        try:
            if self._connection is not None:
                self._connection.interrupt()
        except sqlite3.ProgrammingError:
            pass  # closed meanwhile: the thread has ended
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        connection = self._connection = sqlite3.connect(
            self.path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
        )
        try:
            while not self._stopping:
                self._wake.wait()
                self._wake.clear()
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue  # skipped this time: the next commit's nudge tries again
        finally:
            connection.close()


class WriteStamp(NamedTuple):
    """Where an SQLite connection stood when a transaction began on it."""

    connection: object  # a token kept in the pool's info, which is cleared if it is replaced
    checkouts: int  # times it was taken from the pool
    data_version: int  # moves when any other connection, in any process, commits

    def follows(self, earlier: WriteStamp | None) -> bool:
        """No one wrote between `earlier` and now: the same connection, taken by no one else
        in between, and no other connection committed."""
        return (
            earlier is not None
            and self.connection is earlier.connection
            and self.checkouts == earlier.checkouts + 1
            and self.data_version == earlier.data_version
        )


def write_stamp(connection: Connection) -> WriteStamp | None:
    """The stamp of a connection in a transaction; None off SQLite, which has no such thing."""
    if connection.dialect.name != "sqlite":
        return None
    info = connection.connection.info
    token = info.setdefault(_CONNECTION_TOKEN, object())
    version = connection.exec_driver_sql("PRAGMA data_version").scalar_one()
    return WriteStamp(token, info.get(_CHECKOUTS, 0), version)  # 0: never follows


def serialise(connection: Connection, name: str) -> None:
    """Wait until no other transaction holding the lock `name` is open, and hold it until
    this one ends. SQLite's write transactions are serial already; on PostgreSQL two of them
    that both read "no such row" and then insert it (ingest's customers, a customer's open
    case) would otherwise collide, or each open a case, so those take a transaction-level
    advisory lock, released by the commit or rollback, whatever becomes of the process."""
    if connection.dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": key})


def _count_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    record.info[_CHECKOUTS] = record.info.get(_CHECKOUTS, 0) + 1


def _restore_autocheckpoint(dbapi_connection: Any, record: Any) -> None:
    if record.info.pop(_NO_AUTOCHECKPOINT, False):
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default


def _sqlite_begin(connection: Connection) -> None:
    """BEGIN IMMEDIATE for write units, so a command's read-check-write cannot interleave."""
    mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, group: str | None = None) -> Engine:
    """An engine with cxdesk's connection settings for the URL's backend; an SQLite file (and
    its -wal/-shm) is made read-write for its group, and given to `group` if one is named."""
    if make_url(url).get_backend_name() == "sqlite":
        path = sqlite_path(url)
        gid = group_id(group) if group and path is not None else None
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **_JSON_CODEC
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if path is not None:
            event.listen(engine, "connect", lambda *_: _share_with_group(path, gid, group))
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "checkin", _restore_autocheckpoint)
        event.listen(engine, "checkout", _count_checkout)
        return engine
    return create_engine(url, pool_pre_ping=True, **_JSON_CODEC)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (timeline data, audit detail, tags, drivers) through orjson: ingest writes
# hundreds of thousands of them, and the standard library's encoder was a tenth of its time.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def one_of(column: Any, keys: list[Any], dialect: Dialect) -> ColumnElement[bool]:
    """`column IN keys` with all the keys in one bound value: a JSON array on SQLite, an
    array on PostgreSQL. Ingest looks up a batch's tens of thousands of keys at once; as
    chunks of an IN list, SQLAlchemy's building and binding of each cost more than the
    database's search."""
    if dialect.name == "postgresql":
        return column == any_(bindparam(None, keys, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    values = func.json_each(_json_text(keys)).table_valued("value")
    return column.in_(select(values.c.value))  # type: ignore[no-any-return]


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one shape with the driver's executemany (a COPY on PostgreSQL).

    Each column's bind processor (UTC datetimes, JSON) is looked up once and applied in one
    tight loop, skipping SQLAlchemy's per-row parameter handling: ingest writes hundreds of
    thousands of rows this way.
    """
    if not rows:
        return
    plan = insert_plan(table, connection.dialect, tuple(rows[0]))
    plan.execute(connection, [plan.bind(list(plan.values_of(row))) for row in rows])


def update_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Update many rows, each found by its primary key, with the driver's executemany, the way
    `insert_rows` inserts them: every row sets the other columns the first one names."""
    if not rows:
        return
    plan = update_plan(table, connection.dialect, tuple(rows[0]))
    plan.execute(connection, [plan.bind(list(plan.values_of(row))) for row in rows])


COPY_MIN_ROWS = 10  # PostgreSQL: fewer rows than this are inserted, not copied


@dataclass(frozen=True)
class WritePlan:
    """An INSERT or UPDATE, compiled for a dialect, with each bound value's processor."""

    sql: str
    names: tuple[str, ...]  # the bound values' names, in the statement's order
    positional: bool  # the driver takes rows as sequences, not as dicts
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values in that order
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor)
    copy: str | None = None  # PostgreSQL: the same insert as a COPY (see execute)

    def bind(self, values: list[Any]) -> list[Any]:
        """Values in `names` order, converted for the driver in place."""
        for i, process in self.converted:
            values[i] = process(values[i])
        return values

    def execute(self, connection: Connection, rows: list[list[Any]]) -> None:
        """Run the statement for each bound row with the driver's executemany; on PostgreSQL
        many rows go as one COPY instead, which the server takes without planning and running
        an INSERT for each (ingest of 50,000 events: 6.3 s -> 5.0 s). A COPY waits for the
        server twice, so a few rows, such as a command's audit row, are still inserted."""
        if self.copy is not None and len(rows) >= COPY_MIN_ROWS:
            _copy(connection, self.copy, rows)
        elif self.positional:
            connection.exec_driver_sql(self.sql, [tuple(row) for row in rows])
        else:
            named = [dict(zip(self.names, row, strict=True)) for row in rows]
            connection.exec_driver_sql(self.sql, named)


def _copy(connection: Connection, statement: str, rows: list[list[Any]]) -> None:
    """COPY on the driver's connection, inside SQLAlchemy's transaction; its errors raised as
    SQLAlchemy raises the INSERT's (IntegrityError, DataError, ...), which is what callers and
    the command line catch."""
    driver = connection.connection.driver_connection
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    except dbapi_error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dbapi_error, dialect=connection.dialect
        ) from exc


@lru_cache(maxsize=256)  # per engine's dialect; bounded, as tests make many engines
def insert_plan(table: Table, dialect: Dialect, columns: tuple[str, ...]) -> WritePlan:
    """The statement and bind processors for inserting these columns, compiled once per
    process: one audit row per command would otherwise pay a compilation each time."""
    plan = _plan(table, dialect, table.insert().compile(dialect=dialect, column_keys=list(columns)))
    if dialect.name != "postgresql":
        return plan
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[name].name) for name in plan.names)
    return replace(plan, copy=f"COPY {quote(table.name)} ({names}) FROM STDIN")


@lru_cache(maxsize=256)
def update_plan(table: Table, dialect: Dialect, columns: tuple[str, ...]) -> WritePlan:
    """The statement and bind processors for setting these columns (all but the primary key
    among them) of the row with the primary key given."""
    (key,) = table.primary_key.columns
    settings = [name for name in columns if name != key.name]
    # SQLAlchemy keeps a column's own name for its SET value, so the key is bound apart
    statement = table.update().where(key == bindparam(_KEY_BIND, type_=key.type))
    compiled = statement.compile(dialect=dialect, column_keys=settings)
    return _plan(table, dialect, compiled, {_KEY_BIND: key.name})


_KEY_BIND = "primary_key"


def _bind_processor(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """A column's bind processor, but JSON on SQLite is handed straight to the serializer that
    cxdesk's engines use: SQLAlchemy's own wraps it in checks for its NULL markers, which no
    row written this way holds (~0.3 us a value; ingest binds hundreds of thousands)."""
    if dialect.name == "sqlite" and isinstance(column_type, JSON):
        return _json_text
    return column_type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


def _plan(
    table: Table, dialect: Dialect, compiled: Compiled, renamed: dict[str, str] | None = None
) -> WritePlan:
    names = tuple(compiled.positiontup or compiled.binds)  # type: ignore[attr-defined]
    columns = [(renamed or {}).get(name, name) for name in names]
    processors = [_bind_processor(table.c[name].type, dialect) for name in columns]
    return WritePlan(
        sql=compiled.string,
        names=names,
        positional=compiled.positional,
        values_of=itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],),
        converted=tuple((i, p) for i, p in enumerate(processors) if p is not None),
    )


def _alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "cxdesk:migrations")
    config.attributes["engine"] = engine
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def newest_migration() -> str:
    """The head revision read off the migration file names (`0008_…py` is revision 0008):
    opening a database that is up to date then costs no Alembic import."""
    versions = Path(__file__).with_name("migrations") / "versions"
    return max(path.name.split("_", 1)[0] for path in versions.glob("[0-9]*_*.py"))


def _stored_revision(engine: Engine) -> str | None:
    """The revision in alembic_version, or None where it cannot be read cheaply."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:
        return None
    return rows[0][0] if len(rows) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is already there."""
    from alembic import command

    _refuse_newer_schema(engine)
    command.upgrade(_alembic_config(engine), revision)


def _refuse_newer_schema(engine: Engine) -> None:
    revision = current_revision(engine)
    if revision is not None and revision not in {s.revision for s in _scripts().walk_revisions()}:
        raise DatabaseError(
            f"the database is at schema revision {revision}, which is newer than this "
            "cxdesk knows; upgrade cxdesk before opening it"
        )


class Growth:
    """Told how many rows a bulk run added, ANALYZEs the tables on PostgreSQL each time the
    run has doubled them since their statistics were taken.

    Without statistics (a new database, where autovacuum analyzes a minute later at the
    earliest) PostgreSQL plans a batch's look-up of hundreds of keys as a scan of the whole
    table, so every batch read the growing tables again: ingest ran at 3.3k events/s on
    30,000 events into a new database, and slower as they grew; 10k with statistics.
    """

    def __init__(self, engine: Engine, tables: tuple[Table, ...]) -> None:
        self.engine = engine
        self.tables = tables if engine.dialect.name == "postgresql" else ()
        self.rows = self._estimated_rows() if self.tables else 0
        self.added = 0

    def grew(self, rows: int) -> None:
        if not self.tables:
            return
        self.added += rows
        if self.added >= self.rows:
            with self.engine.connect() as connection:
                names = ", ".join(table.name for table in self.tables)
                connection.exec_driver_sql(f"ANALYZE {names}")
                connection.commit()
            self.rows += self.added
            self.added = 0

    def _estimated_rows(self) -> int:
        with self.engine.connect() as connection:
            estimate = connection.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(name)s)",
                {"name": self.tables[0].name},
            ).scalar()
        return max(int(estimate or 0), 0)  # -1: never analyzed


class AuditKeyFile:
    """The secret that keys the audit chain, in a file the database's owner holds.

    Never in the database: whoever can edit the database must not thereby learn the key.
    It is read once per process, when a command first appends to the chain or verifies it.
    """

    def __init__(self, path: Path, group: str | None = None) -> None:
        self.path = path
        self.group = group
        self._key: bytes | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def key(self) -> bytes:
        """The key; a clear error when the file is missing, unreadable or not a key."""
        if self._key is None:
            try:
                text = self.path.read_text(encoding="ascii").strip()
            except FileNotFoundError:
                raise DatabaseError(
                    f"no audit key at {self.path}: the audit chain is keyed and nothing is "
                    "written without its key; restore the file (or run `cxdesk db upgrade` "
                    "on a database that never had one)"
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise DatabaseError(
                    f"cannot read the audit key {self.path}: {getattr(exc, 'strerror', exc)} "
                    "(run cxdesk as the database's owner, or a member of its group)"
                ) from None
            try:
                key = bytes.fromhex(text)
            except ValueError:
                key = b""
            if len(key) != AUDIT_KEY_BYTES:
                raise DatabaseError(
                    f"{self.path} is not an audit key ({AUDIT_KEY_BYTES * 2} hex digits)"
                )
            self._key = key
        return self._key

    def create(self, key: bytes | None = None) -> bytes:
        """Write a new key (or `key`, copied from another database), never over an existing
        file. Read by its owner only (0600), or by the database's group too (0640) where the
        database is shared with a team: a group is configured, or the directory is setgid."""
        key = key or os.urandom(AUDIT_KEY_BYTES)
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        shared = self.group is not None or directory.stat().st_mode & 0o2000
        mode = 0o640 if shared else 0o600
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            os.fchmod(out.fileno(), mode)  # whatever the umask took away
            if self.group is not None:
                os.fchown(out.fileno(), -1, group_id(self.group))
            out.write(key.hex() + "\n")
        self._key = key
        return key

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self._key = None


def default_key_file(url: str) -> Path | None:
    """Beside an SQLite file (`cxdesk.db.key`); for a server database, one file per database
    in the owner's configuration directory. None for an in-memory database."""
    path = sqlite_path(url)
    if path is not None:
        return Path(f"{path}.key")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return None
    home = os.environ.get("XDG_CONFIG_HOME") or Path("~/.config").expanduser()
    name = f"{parsed.host or 'local'}-{parsed.port or 'default'}-{parsed.database}.key"
    return Path(home) / "cxdesk" / "audit-keys" / name


# The key file of each engine cxdesk opened, found from any session on it: by the dialect,
# which an engine shares with the engines its execution_options make (write sessions').
_AUDIT_KEYS: weakref.WeakKeyDictionary[Dialect, AuditKeyFile] = weakref.WeakKeyDictionary()


def audit_key_file(bind: Engine | Connection) -> AuditKeyFile | None:
    """The audit key file of the database `bind` is on; None for one not opened by cxdesk."""
    return _AUDIT_KEYS.get(bind.dialect)


PERSON_INFO = "cxdesk_person"  # Session.info key: the person behind the session's commands


class Database:
    """One database: an engine, a session factory, and the schema checks."""

    def __init__(self, url: str, group: str | None = None, key_file: Path | None = None) -> None:
        self.url = url
        self.group = group
        self.engine = make_engine(url, group)
        key_path = key_file or default_key_file(url)
        self.audit_key = AuditKeyFile(key_path, group) if key_path is not None else None
        if self.audit_key is not None:
            _AUDIT_KEYS[self.engine.dialect] = self.audit_key
        self._sessions = sessionmaker(self.engine, class_=Session, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"}),
            class_=Session,
            expire_on_commit=False,
        )
        self._checkpointer: _Checkpointer | None = None

    @classmethod
    def open(
        cls,
        db: str | None = None,
        *,
        must_exist: bool = True,
        group: str | None = None,
        key_file: Path | None = None,
    ) -> Database:
        """Open `db` (path or URL); with `must_exist`, insist on an initialised schema. An
        SQLite file and its -wal/-shm are given to the Unix `group` when one is named. The
        audit chain's key is in `key_file`, by default `default_key_file(url)`."""
        url = resolve_url(db)
        path = sqlite_path(url)
        if must_exist and path is not None and not path.exists():
            raise DatabaseError(
                f"no database at {path}: run `cxdesk init` or `cxdesk demo` to create one"
            )
        database = cls(url, group, key_file)
        if must_exist:
            database.check_schema()
        return database

    def record_person(self, login: str) -> None:
        """Who is at the keyboard, whoever they act as (`--as`): the audit rows written from
        now on name them beside the actor (see `cxdesk.workflow.audit.chain`)."""
        for sessions in (self._sessions, self._write_sessions):
            sessions.configure(info={PERSON_INFO: login})

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def check_schema(self) -> None:
        """Refuse a database that is unreachable, uninitialised, newer or older than the code."""
        if _stored_revision(self.engine) == newest_migration():
            return  # the everyday case, answered without loading Alembic
        try:
            revision = current_revision(self.engine)
        except OperationalError as exc:
            raise DatabaseError(f"cannot open database {self.display_url}: {exc.orig}") from exc
        if revision is None:
            if inspect(self.engine).get_table_names():
                raise DatabaseError(f"{self.display_url} is not a cxdesk database")
            raise DatabaseError(
                f"{self.display_url} has no cxdesk schema: run `cxdesk init` to create it"
            )
        _refuse_newer_schema(self.engine)
        if revision != head_revision():
            raise DatabaseError(
                f"{self.display_url} is at schema revision {revision}; "
                "run `cxdesk db upgrade` to bring it up to date"
            )

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema to `revision` (keying the audit chain is the audit wing's:
        `upgrade_database`)."""
        try:
            upgrade(self.engine, revision)
        except OperationalError as exc:
            raise DatabaseError(f"cannot migrate {self.display_url}: {exc.orig}") from exc

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that changes data. On SQLite the write lock is taken before the block
        runs; while another writer holds it past the busy timeout the attempt is retried with
        backoff, so "database is locked" does not reach a user and no work is half done."""
        session, transaction = self._locked_session()
        with session, transaction:
            if self._checkpointer is not None:
                self._checkpointer.exempt(session.connection())
            yield session
        if self._checkpointer is not None:
            self._checkpointer.nudge()

    @contextmanager
    def bulk_writes(self, *tables: Table) -> Iterator[Growth]:
        """For a run of big write transactions (ingest) that fills `tables`, the first the
        biggest. On SQLite, each commit past a few MB of log would copy the write-ahead log
        into the database file before returning, a tenth of ingest's time; inside this block
        a thread does that on its own connection after each commit, while the next
        transaction is being prepared. On PostgreSQL, the `Growth` it yields keeps the
        tables' statistics up to date as they grow."""
        growth = Growth(self.engine, tables)
        path = sqlite_path(self.url)
        if path is None or self._checkpointer is not None:
            yield growth
            return
        self._checkpointer = _Checkpointer(path)
        try:
            yield growth
        finally:
            self._checkpointer.stop()
            self._checkpointer = None

    def _locked_session(self) -> tuple[Session, SessionTransaction]:
        for attempt in range(WRITE_LOCK_ATTEMPTS):
            session = self._write_sessions()
            transaction = session.begin()
            try:
                session.connection()  # BEGIN IMMEDIATE on SQLite: the write lock, or busy
                return session, transaction
            except OperationalError as exc:
                session.close()
                if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                    raise
            time.sleep(random.uniform(0.5, 1.0) * min(0.05 * 2**attempt, 2.0))
        waited = WRITE_LOCK_ATTEMPTS * SQLITE_BUSY_TIMEOUT_MS // 1000
        raise DatabaseError(
            f"{self.display_url}: another writer has held the database for over {waited} s; "
            "nothing was changed, try again"
        )

    def dispose(self) -> None:
        self.engine.dispose()
