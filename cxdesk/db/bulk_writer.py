"""The one connection every write unit of a bulk run takes in turn (SQLite).

SQLite keeps a page cache in each connection, and a connection drops its cache whole when a
transaction begins on it after another connection committed. The pool hands out the
connection used least recently, so write units that each took one from it found their
cache gone every time; and ingest trusts what it remembers of the customers and cases it
read only while the same connection follows itself (`WriteStamp`), so a server writing
each request from whichever thread had it read them all again for every request. In a bulk
run all write units take this one connection, one unit at a time: SQLite's write lock
would have them take turns all the same, and the turn is handed over at once here, where
SQLite's busy handler polls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from cxdesk.db.engine import BULK_WRITER, SQLITE_BEGIN
from cxdesk.db.write_order import count_use
from cxdesk.errors import DatabaseError

logger = logging.getLogger(__name__)


class BulkWriter:
    """Lends one connection, writing with `BEGIN IMMEDIATE`, to one write unit at a time."""

    def __init__(self, engine: Engine, label: str, setup: Callable[[Connection], None]) -> None:
        """`setup` readies the connection (its pragmas), in a transaction of its own; again
        whenever the connection is replaced (invalidated by an interrupted statement)."""
        self.label = label  # the database, as messages name it
        self._setup = setup
        self._turn = threading.Lock()
        self._holder: int | None = None  # the thread whose unit has the turn
        self._connection = engine.connect()

    @contextmanager
    def turn(self, wait_s: float) -> Iterator[Connection]:
        """The connection, once no other unit of this process holds it; a unit waiting
        longer than `wait_s` is refused before it has done anything, and a unit asked for
        inside another of the same thread at once (it would wait for itself)."""
        if self._holder == threading.get_ident():
            raise DatabaseError(f"{self.label}: a write began inside another write of its own")
        if not self._turn.acquire(timeout=wait_s):
            raise DatabaseError(
                f"{self.label}: another write of this process has had the database, or waited "
                f"for it, for over {wait_s:.0f} s; nothing was changed, try again"
            )
        self._holder = threading.get_ident()
        try:
            self._ready()
            count_use(self._connection)
            yield self._connection
        finally:
            self._end_leftover_transaction()
            self._holder = None
            self._turn.release()

    def close(self) -> None:
        """Give the connection back to the pool once the unit holding it, if any, is done."""
        with self._turn:
            self._connection.close()

    def _ready(self) -> None:
        """Set the connection up where it is new, and end what was begun on it outside any
        unit (a connection kept past its unit and used again): a session would join that
        transaction and commit nothing, and it holds the write lock against everyone."""
        if self._connection.in_transaction():
            logger.warning("%s: rolled back work done outside a write unit", self.label)
            self._connection.rollback()
        if not self._connection.connection.info.get(BULK_WRITER):  # new, or replaced
            # In a deferred transaction: its pragmas need no write lock, which another
            # process may hold (the unit's own BEGIN IMMEDIATE waits for it, and retries).
            self._connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
            self._setup(self._connection)
            self._connection.commit()
            self._connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})

    def _end_leftover_transaction(self) -> None:
        """Roll back a transaction SQLite kept open that SQLAlchemy counts as ended (a
        COMMIT refused by a deferred constraint): idle, it would hold the write lock against
        every other process until this one wrote again."""
        if self._connection.invalidated or self._connection.closed:
            return
        driver = self._connection.connection.dbapi_connection
        if driver is not None and driver.in_transaction:
            driver.rollback()
