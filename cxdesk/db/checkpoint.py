"""Copying an SQLite file's write-ahead log into it: off the writer's thread for bulk runs,
and once more, truncating it, when a desk or a command lets go of the database."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from sqlalchemy import Connection

from cxdesk.db.engine import LOG_LIMIT_FRAMES, NO_AUTOCHECKPOINT, SQLITE_BUSY_TIMEOUT_MS


class Checkpointer:
    """Copies committed write-ahead log into an SQLite file in a thread of its own.

    The connections that write in bulk are exempted from checkpointing at commit
    (`wal_autocheckpoint=0`) until they go back to the pool. A PASSIVE checkpoint waits for
    no one and lets the writer go on, and sqlite3 releases the GIL while it runs.

    SQLite starts the log over from its beginning only when a write transaction begins on a
    log copied whole. A bulk writer begins its next transaction before this thread has
    copied the last one, so the log would grow without end (7 GB over a million events);
    once it holds `LOG_LIMIT_FRAMES`, the writer waits after a commit for the checkpoint of
    it (`settle`), and its next transaction starts the log over.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wake = threading.Event()
        self._stopping = False
        self._connection: sqlite3.Connection | None = None
        self._progress = threading.Condition()
        self._asked = 0  # commits nudged about, counted
        self._copied = 0  # of those, how many the last finished checkpoint began after
        self._log_frames = 0  # in the log at the last checkpoint
        self._settle_from = LOG_LIMIT_FRAMES  # the log's size at which `settle` waits
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def exempt(self, connection: Connection) -> None:
        connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        connection.connection.info[NO_AUTOCHECKPOINT] = True  # undone at check-in

    def nudge(self) -> None:
        """A transaction was committed: copy it."""
        with self._progress:
            self._asked += 1
        self._wake.set()

    def settle(self) -> None:
        """Once the log has outgrown its limit, wait (in the writer's thread, between its
        transactions) for the checkpoint of all committed so far. A reader holding an old
        snapshot can keep part of it uncopied; then this waits again only after the log has
        grown by another limit, not after every commit."""
        if self._log_frames < self._settle_from:
            return
        with self._progress:
            asked = self._asked
            self._wake.set()
            self._progress.wait_for(lambda: self._copied >= asked or self._stopping)
        self._settle_from = self._log_frames + LOG_LIMIT_FRAMES

    def stop(self) -> None:
        """End the thread, cutting short the checkpoint it may be running: the log is safe
        where it is, and the next checkpoint (any connection's) copies the rest."""
        with self._progress:
            self._stopping = True
            self._progress.notify_all()
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
                with self._progress:
                    asked = self._asked
                try:
                    _busy, log, _copied = connection.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                except sqlite3.Error:
                    pass  # skipped this time: the next commit's nudge tries again
                else:
                    self._log_frames = int(log)
                    if self._log_frames < LOG_LIMIT_FRAMES:
                        self._settle_from = LOG_LIMIT_FRAMES  # the log was started over
                with self._progress:  # tried, copied or not: `settle` waits no longer
                    self._copied = asked
                    self._progress.notify_all()
        finally:
            connection.close()
            with self._progress:
                self._stopping = True
                self._progress.notify_all()


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
