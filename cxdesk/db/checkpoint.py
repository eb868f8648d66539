"""Copying an SQLite file's write-ahead log into it off the writer's thread, for bulk runs."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import Connection

from cxdesk.db.engine import NO_AUTOCHECKPOINT, SQLITE_BUSY_TIMEOUT_MS


class Checkpointer:
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
        connection.connection.info[NO_AUTOCHECKPOINT] = True  # undone at check-in

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
