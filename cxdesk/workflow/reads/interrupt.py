"""Stopping a read from another thread, when a newer one makes its answer useless."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any

from sqlmodel import Session

CANCEL_TIMEOUT_S = 2.0  # PostgreSQL: how long to wait for the server to take a cancel request


class Interrupter:
    """Stops, from another thread, the statements that worker sessions are running. A free-text
    word that matches nothing scans every ticket (over a second on a million); a newer search
    or view makes that answer useless, and stopping it frees the core and the connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stops: dict[int, Callable[[], None]] = {}

    @contextmanager
    def running(self, session: Session) -> Iterator[None]:
        """While inside, `interrupt()` stops the statement `session` is running; a stopped
        statement raises the driver's error in the worker."""
        driver = session.connection().connection.driver_connection
        stop = (
            driver.interrupt if isinstance(driver, sqlite3.Connection) else partial(_cancel, driver)
        )
        with self._lock:
            self._stops[id(session)] = stop
        try:
            yield
        finally:
            with self._lock:  # after this the connection may serve another session
                del self._stops[id(session)]

    def interrupt(self) -> None:
        """Stop every statement running inside `running`. Held under the lock, so a
        connection is never interrupted after it has gone back to the pool."""
        with self._lock:
            for stop in self._stops.values():
                stop()


def _cancel(driver: Any) -> None:
    """Ask PostgreSQL to cancel the backend's running statement (an idle one ignores it)."""
    import psycopg

    with suppress(psycopg.Error):  # else it runs to its end, and its answer is dropped
        driver.cancel_safe(timeout=CANCEL_TIMEOUT_S)
