"""Copying an SQLite file's write-ahead log into it: off the writer's thread for bulk runs
and for a process's many small write units, and once more, truncating it, when a desk or a
command lets go of the database."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from sqlalchemy import Connection

from cxdesk.db.engine import BULK_CACHE_KIB, BULK_WRITER, LOG_LIMIT_FRAMES

# How long a RESTART checkpoint waits for another writer's transaction, and then for readers
# still on older snapshots, holding other writers off: long enough for an ingest batch, short
# enough that a long report does not stall every writer of the desk.
RESTART_WAIT_S = 2.0
# Write units of a process committed between two checkpoints of `UnitCheckpoints`: a
# command writes a few dozen pages, so the log stays under SQLite's automatic checkpoint
# (1,000 pages), which then only acts where this cannot (readers holding the log).
COMMITS_PER_CHECKPOINT = 16


class Checkpointer:
    """Copies committed write-ahead log into an SQLite file in a thread of its own.

    The connections that write in bulk are exempted from checkpointing at commit
    (`wal_autocheckpoint=0`) until they go back to the pool. A PASSIVE checkpoint waits for
    no one and lets the writer go on, and sqlite3 releases the GIL while it runs.

    SQLite starts the log over from its beginning only when a write transaction begins on a
    log copied whole. A bulk writer begins its next transaction before this thread has
    copied the last one (and another writer may commit meanwhile), so the log would grow
    without end: 7 GB over a million events. Once it holds `LOG_LIMIT_FRAMES`, the writer
    waits between its transactions (`settle`) for this thread's RESTART checkpoint, which
    copies the rest while holding other writers off, so that the next write starts the log
    over.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wake = threading.Event()
        self._stopping = False
        self._connection: sqlite3.Connection | None = None
        self._log_frames = 0  # in the log at the last checkpoint
        self._settle_from = LOG_LIMIT_FRAMES  # the log's size at which `settle` checkpoints
        self._restart = threading.Condition()
        self._restart_asked = False
        self._page_size = 4096  # SQLite's default; read from the file by the thread
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def exempt(self, connection: Connection) -> None:
        """Take `connection` as a bulk writer's until it goes back to the pool: no checkpoint
        at its commits, and the bulk writer's smaller page cache."""
        connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        connection.connection.info[BULK_WRITER] = True  # undone at check-in

    def nudge(self) -> None:
        """A transaction was committed: copy it."""
        self._wake.set()

    def settle(self) -> None:
        """Once the log has outgrown its limit, have it checkpointed whole before the writer
        (whose thread waits here, before its next transaction) goes on, so that this write
        starts it over. Another writer's transaction, then readers of older snapshots, are
        waited for up to `RESTART_WAIT_S` each, other writers held off meanwhile; if one
        outlasts it, the log is left to grow by another limit before this tries again, not
        checkpointed after every commit."""
        if max(self._log_frames, self._frames_in_file()) < self._settle_from:
            return
        with self._restart:
            self._restart_asked = True
            self._wake.set()
            self._restart.wait_for(lambda: not self._restart_asked or self._stopping)

    def _frames_in_file(self) -> int:
        """The frames the log's file can hold: over the limit only once the log has held
        that many since it was last cut back. Seen at once, as the checkpoints' count is not
        (it lags them), and the same for every process writing the file."""
        try:
            return Path(f"{self.path}-wal").stat().st_size // (self._page_size + 24)
        except OSError:
            return 0

    def stop(self) -> None:
        """End the thread, cutting short the checkpoint it may be running: the log is safe
        where it is, and the next checkpoint (any connection's) copies the rest."""
        with self._restart:
            self._stopping = True
            self._restart.notify_all()
        try:
            if self._connection is not None:
                self._connection.interrupt()
        except sqlite3.ProgrammingError:
            pass  # closed meanwhile: the thread has ended
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        # The busy timeout bounds only a RESTART's waits (a PASSIVE checkpoint waits for no
        # one): for another writer's transaction, then for readers of older snapshots.
        connection = self._connection = sqlite3.connect(self.path, timeout=RESTART_WAIT_S)
        try:
            self._page_size = connection.execute("PRAGMA page_size").fetchone()[0]
            while not self._stopping:
                self._wake.wait()
                self._wake.clear()
                if self._restart_asked:
                    self._restart_log(connection)
                    continue
                try:
                    _busy, log, _copied = connection.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                except sqlite3.Error:
                    continue  # skipped this time: the next commit's nudge tries again
                if log != -1:  # -1: another process's checkpoint was running; nothing known
                    self._log_frames = int(log)
        except sqlite3.Error:
            if not self._stopping:
                raise
            # `stop` interrupted what it was running (a run that ended as it began): no error
        finally:
            connection.close()
            with self._restart:
                self._stopping = True
                self._restart.notify_all()

    def _restart_log(self, connection: sqlite3.Connection) -> None:
        """A RESTART checkpoint: other writers held off while it copies what is left, and
        readers of older snapshots waited for, so that the next write starts the log over."""
        deadline = time.monotonic() + RESTART_WAIT_S
        while True:
            try:
                busy, log, _copied = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            except sqlite3.Error:
                busy, log = 1, 0
            # A log of -1: another process's checkpoint was running, which SQLite does not
            # wait for; this one tries again shortly instead of letting the log grow.
            if log != -1 or time.monotonic() > deadline or self._stopping:
                break
            time.sleep(0.005)
        if busy:
            self._settle_from = max(self._log_frames, int(log)) + LOG_LIMIT_FRAMES
        else:
            self._log_frames, self._settle_from = 0, LOG_LIMIT_FRAMES
        with self._restart:
            self._restart_asked = False
            self._restart.notify_all()


class UnitCheckpoints:
    """Checkpoints for a process's write units in transactions of their own (commands, a
    server's small requests), made by a `Checkpointer` thread every `COMMITS_PER_CHECKPOINT`
    commits instead of by SQLite at the commit that fills its 1,000 pages: that commit took
    a hundred times the others (p99 4.8 ms against a median of 0.1 ms), a sixth of the
    commands' time. The thread starts at the first checkpoint, so that a command line run
    that commits once starts none (its `Database.dispose` truncates the log)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._commits = 0
        self._thread: Checkpointer | None = None

    def committed(self) -> None:
        with self._lock:
            self._commits += 1
            if self._commits % COMMITS_PER_CHECKPOINT:
                return
            if self._thread is None:
                self._thread = Checkpointer(self.path)
            thread = self._thread  # `stop` may let go of it once the lock is free
        thread.nudge()

    def stop(self) -> None:
        """End the thread, if one runs; the next commits, counted afresh, start another."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._commits = 0
        if thread is not None:
            thread.stop()

    def forget(self) -> None:
        """In a forked process: the thread was the parent's, and its connection too."""
        self._thread = None


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
