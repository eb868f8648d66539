"""The change feed: tells an open session that the database changed, whoever changed it.

On PostgreSQL a dedicated connection LISTENs on `cxdesk_changes`; the triggers of migration
0006 NOTIFY it on every statement that touches tickets or their timelines, at commit. On SQLite
a persistent connection reads `PRAGMA data_version`, which moves whenever another connection
commits. Either way `wait(timeout)` blocks the calling thread until something changed (True)
or the timeout passed (False); it raises once the feed is known to be down.

`ChangeWatcher` runs a feed on a thread of its own and calls back on each change (at most one
call per `min_gap` seconds, so a busy ingest does not turn into a reload storm); it reopens a
feed that failed, and says so, so that a UI can poll meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Protocol

from cxdesk.db import Database, make_engine

CHANNEL = "cxdesk_changes"
SQLITE_POLL_S = 0.2  # PRAGMA data_version reads the WAL index in shared memory: cheap
PING_EVERY_S = 30.0  # how often an idle PostgreSQL feed proves its connection still listens
# libpq options for the listening connection: a peer that vanished is noticed in about a minute
# whether the connection is idle (keepalives) or a ping is unanswered (user timeout, in ms).
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}


class ChangeFeed(Protocol):
    def wait(self, timeout: float) -> bool:
        """True as soon as the database changed since the last call; False after `timeout`."""
        ...

    def close(self) -> None: ...


class FeedUnavailable(Exception):
    """This backend (or this database) offers no change feed; poll instead."""


class PostgresFeed:
    """LISTEN on a connection of its own, outside the pool and in autocommit.

    An idle connection can die without either end hearing of it (a NAT or firewall that drops
    idle flows, a tunnel that went away), and a pooler in transaction mode forgets a LISTEN
    when it hands the server connection to someone else: either way no notification ever
    arrives and `notifies()` just times out. So the connection sends TCP keepalives, and every
    `ping_every` seconds `wait` asks the server whether this session still listens; an error
    or a "no" raises, and the watcher falls back to polling and reopens the feed.
    """

    def __init__(self, db: Database, *, ping_every: float = PING_EVERY_S) -> None:
        import psycopg

        args, kwargs = db.engine.dialect.create_connect_args(db.engine.url)
        kwargs.pop("context", None)  # SQLAlchemy's adapters: not needed to listen
        for key, value in KEEPALIVES.items():
            kwargs.setdefault(key, value)
        self._connection = psycopg.connect(*args, **kwargs, autocommit=True)
        try:
            self._connection.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            self._connection.close()
            raise
        self._ping_every = ping_every
        self._pinged = time.monotonic()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            slice_ = max(0.0, min(left, self._pinged + self._ping_every - time.monotonic()))
            changed = any(True for _ in self._connection.notifies(timeout=slice_, stop_after=1))
            if changed:  # a burst of commits is one change
                for _ in self._connection.notifies(timeout=0.01):
                    pass
                return True
            if time.monotonic() - self._pinged >= self._ping_every:
                self._ping()
            if time.monotonic() >= deadline:
                return False

    def _ping(self) -> None:
        """A round trip that also proves this session still LISTENs; raises if not."""
        row = self._connection.execute(
            "SELECT count(*) FROM pg_listening_channels() AS c WHERE c = %s", (CHANNEL,)
        ).fetchone()
        if not row or not row[0]:
            raise ConnectionError(f"the session no longer listens on {CHANNEL}")
        self._pinged = time.monotonic()

    def close(self) -> None:
        self._connection.close()


class SqliteFeed:
    """`PRAGMA data_version` on one connection kept open: it moves when others commit."""

    def __init__(self, db: Database) -> None:
        self._engine = make_engine(db.url, db.group)
        self._connection = self._engine.raw_connection()
        self._version = self._read()

    def _read(self) -> int:
        cursor = self._connection.cursor()
        try:
            cursor.execute("PRAGMA data_version")
            (version,) = cursor.fetchall()[0]  # the pragma is always one row
            return int(version)
        finally:
            cursor.close()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            version = self._read()
            if version != self._version:
                self._version = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(SQLITE_POLL_S, left))

    def close(self) -> None:
        self._connection.close()
        self._engine.dispose()


def open_feed(db: Database) -> ChangeFeed:
    """The change feed for `db`'s backend; FeedUnavailable where there is none."""
    match db.engine.dialect.name:
        case "postgresql":
            return PostgresFeed(db)
        case "sqlite" if db.engine.url.database not in (None, "", ":memory:"):
            return SqliteFeed(db)
    raise FeedUnavailable(f"no change feed for {db.display_url}")


class ChangeWatcher:
    """Watch `db` on a daemon thread: `on_change()` after each change, `on_state(live, why)`
    when the feed comes up or goes down (down: the caller should poll until it is back)."""

    def __init__(
        self,
        db: Database,
        on_change: Callable[[], None],
        on_state: Callable[[bool, str], None],
        *,
        min_gap: float = 0.5,
        retry: float = 5.0,
        opener: Callable[[Database], ChangeFeed] = open_feed,
    ) -> None:
        self.db = db
        self.on_change = on_change
        self.on_state = on_state
        self.min_gap = min_gap
        self.retry = retry
        self.opener = opener
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cxdesk-changes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, join: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(join)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                feed = self.opener(self.db)
            except FeedUnavailable as exc:
                self.on_state(False, str(exc))
                return  # nothing to come back to
            except Exception as exc:  # unreachable server and the like: poll, retry later
                self.on_state(False, f"change feed unavailable: {exc}")
                self._stop.wait(self.retry)
                continue
            self.on_state(True, "")
            if not first:
                self.on_change()  # whatever happened while it was down
            first = False
            try:
                while not self._stop.is_set():
                    if feed.wait(0.5):
                        self.on_change()
                        self._stop.wait(self.min_gap)
            except Exception as exc:  # connection lost: poll until a new feed is up
                self.on_state(False, f"change feed lost: {exc}")
                self._stop.wait(self.retry)
            finally:
                with suppress(Exception):
                    feed.close()
