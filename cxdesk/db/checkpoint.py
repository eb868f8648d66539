"""Copying an SQLite file's write-ahead log into it: off the writer's thread for bulk runs,
and once more, truncating it, when a desk or a command lets go of the database."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
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


def truncate_log(path: Path) -> bool:
    """Copy the write-ahead log of the SQLite file at `path` into it and truncate the log to
    nothing, if no other connection is reading or writing (never waited for: it is tried
    once, without a busy timeout); True if done, or if there is no log. SQLite does this
    itself when the last connection closes, but not when a connection is left open to the
    end (a thread's, at the TUI's quit), so a log of any size would stay behind."""
    if not Path(f"{path}-wal").exists():
        return True  # nothing to copy; and connecting would create the log
    try:
        with closing(sqlite3.connect(path, timeout=0)) as connection:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error:
        return False  # locked by a writer, or not ours to write: the next one will
    return int(busy) == 0
