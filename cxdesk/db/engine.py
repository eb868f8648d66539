"""Engines with cxdesk's connection settings: what a URL names, SQLite's pragmas and
transaction modes, the JSON codec, and the listeners the rest of the package relies on."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cxdesk.db.driver import run_on_driver
from cxdesk.db.sharing import group_id, share_with_group
from cxdesk.db.write_order import count_checkout
from cxdesk.errors import DatabaseError

DEFAULT_DB = "cxdesk.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_BEGIN = "cxdesk_sqlite_begin"  # execution option: how `BEGIN` starts a transaction
BULK_WRITER = "cxdesk_bulk_writer"  # pool info: autocheckpointing off, the bulk writer's cache
# SQLite's page cache, in KiB: a desk's connections keep 64 MB, which its queries warm; a bulk
# writer (ingest, serve) 16 MB, the system's file cache holding its pages all the same: over a
# million alert-heavy events, about 50 MB less at the peak for a few percent of the rate at most.
CACHE_KIB = 65_536
BULK_CACHE_KIB = 16_384
# The write-ahead log's size a bulk run lets it reach before it is started over (frames of a
# 4 KB page), and the size its file is cut back to when it is.
LOG_LIMIT_FRAMES = 32_768
LOG_FILE_LIMIT_BYTES = 128 * 1024 * 1024


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


def json_text(value: Any) -> str:
    """A JSON column's value as the database stores it."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (timeline data, audit detail, tags, drivers) through orjson: ingest writes
# hundreds of thousands of them.
_JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": orjson.loads}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    # A log that grew in a bulk run is cut back when it is started over, not kept at its peak.
    cursor.execute(f"PRAGMA journal_size_limit={LOG_FILE_LIMIT_BYTES}")
    cursor.close()


def _end_bulk_writing(dbapi_connection: Any, record: Any) -> None:
    """At check-in: a bulk writer's connection goes back to the pool as any other."""
    if record.info.pop(BULK_WRITER, False) and dbapi_connection is not None:  # None: invalidated
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default
        dbapi_connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")


def _sqlite_begin(connection: Connection) -> None:
    """BEGIN IMMEDIATE for write units, so a command's read-check-write cannot interleave."""
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    run_on_driver(connection, f"BEGIN {mode}")


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
            event.listen(engine, "connect", lambda *_: share_with_group(path, gid, group))
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "checkin", _end_bulk_writing)
        event.listen(engine, "checkout", count_checkout)
        return _with_driver_savepoints(engine)
    return _with_driver_savepoints(create_engine(url, pool_pre_ping=True, **_JSON_CODEC))


def _with_driver_savepoints(engine: Engine) -> Engine:
    """`engine` with its savepoints begun, released and rolled back to on the driver.
    SQLAlchemy names each savepoint anew, so its statements are never in the cache of
    compiled statements: each was compiled afresh, about 40 µs against the driver's 1 µs,
    and every step of a batch (a sweep's, a bulk action's, the demo's replay) takes two."""
    dialect = engine.dialect
    quote = dialect.identifier_preparer.quote

    def run(statement: str) -> Callable[[Connection, str], None]:
        return lambda connection, name: run_on_driver(connection, f"{statement} {quote(name)}")

    for method, statement in _SAVEPOINT_STATEMENTS.items():
        setattr(dialect, method, run(statement))  # this engine's dialect only
    return engine


_SAVEPOINT_STATEMENTS = {
    "do_savepoint": "SAVEPOINT",
    "do_release_savepoint": "RELEASE SAVEPOINT",
    "do_rollback_to_savepoint": "ROLLBACK TO SAVEPOINT",
}
