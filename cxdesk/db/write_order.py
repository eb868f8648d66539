"""Telling whether anyone wrote between two transactions (SQLite), and making writers that
would collide take turns (PostgreSQL)."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from sqlalchemy import Connection

_CONNECTION_TOKEN = "cxdesk_connection_token"
_CHECKOUTS = "cxdesk_checkouts"


class WriteStamp(NamedTuple):
    """Where an SQLite connection stood when a transaction began on it."""

    connection: object  # a token kept in the pool's info, which is cleared if it is replaced
    checkouts: int  # times it was taken for a unit of work (from the pool, or a bulk run's)
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


def count_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """The pool's "checkout" listener that `WriteStamp.checkouts` counts by."""
    record.info[_CHECKOUTS] = record.info.get(_CHECKOUTS, 0) + 1


def count_use(connection: Connection) -> None:
    """Count a unit of work begun on a connection held out of the pool (a bulk run's), as
    the pool counts the ones it hands out."""
    info = connection.connection.info
    info[_CHECKOUTS] = info.get(_CHECKOUTS, 0) + 1


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
