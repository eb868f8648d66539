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

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from cxdesk.db.engine import SQLITE_BEGIN
from cxdesk.db.write_order import count_use
from cxdesk.errors import DatabaseError


class BulkWriter:
    """Lends one connection, writing with `BEGIN IMMEDIATE`, to one write unit at a time."""

    def __init__(self, engine: Engine, label: str, setup: Callable[[Connection], None]) -> None:
        """`setup` readies the connection (its pragmas), in a transaction of its own."""
        self.label = label  # the database, as messages name it
        self._turn = threading.Lock()
        self._connection = engine.connect()
        setup(self._connection)
        self._connection.commit()  # a unit's session joins no transaction: it begins its own
        self._connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})

    @contextmanager
    def turn(self, wait_s: float) -> Iterator[Connection]:
        """The connection, once no other unit of this process holds it; a unit waiting
        longer than `wait_s` is refused before it has done anything."""
        if not self._turn.acquire(timeout=wait_s):
            raise DatabaseError(
                f"{self.label}: another write of this process has held the database for "
                f"over {wait_s:.0f} s; nothing was changed, try again"
            )
        try:
            if self._connection.in_transaction():  # a session would join it, committing nothing
                raise DatabaseError(f"{self.label}: the bulk writer's last unit left a transaction")
            count_use(self._connection)
            yield self._connection
        finally:
            self._turn.release()

    def close(self) -> None:
        """Give the connection back to the pool once the unit holding it, if any, is done."""
        with self._turn:
            self._connection.close()
