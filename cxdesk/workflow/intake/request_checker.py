"""Checking requests' records in a process of their own (`cxdesk serve`).

Validating a record and the work ahead of the writer (the alert rules it fires, its row
bound for the driver, the clocks of the case it would open) need nothing from the database,
as for ingest's reading child (`feed.py`). A server that did them on its request threads
spent a core on a fifth of the work and left the other idle; here one process, forked when
the server starts, checks each request's records while the server writes the request
before. Like everything a server reads once (its config, the queues), the checker's rules
and queues are those of its start.

Forked before the server starts any thread of its own (a thread's locks are not taken
along); the process keeps the collector off but for a full collection every
`COLLECT_EVERY` records, as ingest's child does (`settle_forked_worker`). If it dies, the
server says so once and checks in its own threads from then on.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection

from cxdesk.workflow.intake.collector import Collector
from cxdesk.workflow.intake.feed import Checked, WorkAhead, checked, from_wire, to_wire
from cxdesk.workflow.intake.forked_worker import STOP_WAIT_S, ended_within, settle_forked_worker
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.intake.validation import Terms

logger = logging.getLogger(__name__)

# What the checking process works with: set before it is forked, so that it has them without
# any being pickled (the rules' parsers and the calendars are closures).
_WORK: tuple[Terms, WorkAhead] | None = None
_COLLECTOR = Collector()


class RequestChecker:
    """Each request's records checked in the process forked at its making."""

    def __init__(
        self, terms: Terms, ahead: WorkAhead, unshared: tuple[Connection, ...] = ()
    ) -> None:
        """`unshared`: connections the process must not keep a copy of (another worker's
        pipe, whose other end waits for the server's to close)."""
        global _WORK
        _WORK = (terms, ahead)
        self.terms = terms
        context = multiprocessing.get_context("fork")
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            1, mp_context=context, initializer=_settle, initargs=(unshared,)
        )
        self._pid = self._pool.submit(os.getpid).result()  # forked now, not at a request

    def checked(self, records: list[Record]) -> list[Checked]:
        """The records checked, with the work ahead done, in order."""
        wire = self._checked_apart(records)
        return self._checked_here(records) if wire is None else from_wire(marshal.loads(wire))

    def checked_wire(self, records: list[Record]) -> bytes:
        """The records checked, as marshal's bytes of their wire form (for a writing process
        to read: nothing is made of them here)."""
        wire = self._checked_apart(records)
        return marshal.dumps(to_wire(self._checked_here(records))) if wire is None else wire

    def _checked_apart(self, records: list[Record]) -> bytes | None:
        """The checking process's bytes; None once it has stopped."""
        pool = self._pool
        if pool is None:
            return None
        try:
            return pool.submit(_check, records).result()
        except BrokenProcessPool:
            self._pool = None
            logger.warning("the checking process stopped; checking in this process")
            return None

    def _checked_here(self, records: list[Record]) -> list[Checked]:
        timezone, window = self.terms.timezone, self.terms.window()
        return [checked(record, timezone, window) for record in records]

    def close(self) -> None:
        """The process ends once its request under way is checked; killed if it has not
        within `STOP_WAIT_S` (stopped, or stuck)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)
        if not ended_within(self._pid, STOP_WAIT_S):
            logger.warning("the checking process did not stop; killed")
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)


def _settle(unshared: tuple[Connection, ...]) -> None:
    for connection in unshared:
        connection.close()
    settle_forked_worker()


def _check(records: list[Record]) -> bytes:
    """In the checking process: the records checked, as marshal's bytes of the wire form."""
    assert _WORK is not None
    terms, ahead = _WORK
    timezone, window = terms.timezone, terms.window()
    batch = [checked(record, timezone, window, ahead) for record in records]
    _COLLECTOR.after(len(batch))
    return marshal.dumps(to_wire(batch))
