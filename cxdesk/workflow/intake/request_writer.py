"""Writing requests' records in a process of their own (`cxdesk serve`).

A server writes its requests one at a time, and the writing is most of a request's work. In
the server's process it shared one interpreter lock with everything else the requests do
(reading bodies, building answers, HTTP itself) and waited on it. Here one process, forked
when the server starts, writes every request's checked records through the server's
`Ingestor` as a bulk run (`Database.bulk_writes`) for as long as it lives, on connections of
its own; the customers and cases it remembers from one request to the next are its own.

Requests take turns on a pipe to it: the checked records go as the checking process sent
them (marshal's bytes, never turned into objects here), the outcomes come back as tuples,
and an error as the exception raised there. Forked before any thread starts, it takes no
lock another thread held. If it dies, the server says so once and writes in its own threads
from then on (a request it was writing is written again there: ingest is idempotent on
`event_id`, so what was stored is told as duplicate).
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import multiprocessing
import pickle
import threading
from multiprocessing.connection import Connection
from typing import Any

from cxdesk.workflow.intake.collector import Collector
from cxdesk.workflow.intake.feed import from_wire
from cxdesk.workflow.intake.forked_worker import settle_forked_worker
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.requests import RecordOutcome, ingest_request

logger = logging.getLogger(__name__)

STOP_WAIT_S = 30  # how long a stopping server waits for the process's last checkpoint

_OK, _FAILED = "ok", "failed"


class RequestWriter:
    """Each request's checked records written in the process forked at its making."""

    def __init__(self, intake: Ingestor) -> None:
        context = multiprocessing.get_context("fork")
        self._pipe, theirs = context.Pipe()
        self._process: multiprocessing.process.BaseProcess | None = context.Process(
            target=_serve, args=(intake, theirs), name="cxdesk-writer", daemon=True
        )
        self._process.start()
        theirs.close()  # theirs alone: its end of the pipe closes when it dies
        self._turn = threading.Lock()

    def write(
        self, batches: list[bytes], *, source: str, person: str, in_lines: bool
    ) -> list[RecordOutcome] | None:
        """Each record's outcome, in order; None once the writing process has stopped (the
        caller writes the records itself)."""
        with self._turn:
            if self._process is None:
                return None
            try:
                self._pipe.send((batches, source, person, in_lines))
                status, told = self._pipe.recv()
            except (EOFError, OSError):
                self._lost()
                return None
        if status == _FAILED:
            raise told
        return [RecordOutcome(*fields) for fields in told]

    def close(self) -> None:
        """The process ends its run (its last checkpoint) and exits."""
        with self._turn:
            process, self._process = self._process, None
            if process is None:
                return
            with contextlib.suppress(OSError):  # it died meanwhile
                self._pipe.send(None)
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.kill()
                process.join()
            self._pipe.close()

    def _lost(self) -> None:
        process, self._process = self._process, None
        assert process is not None
        process.join(1)
        logger.warning(
            "the writing process stopped (exit code %s); writing in this process",
            process.exitcode,
        )


def _serve(intake: Ingestor, pipe: Connection) -> None:
    """In the writing process: settled as a worker, with connections of its own (those the
    server had at the fork are the server's), writing each request as it comes until told to
    stop or the server is gone."""
    settle_forked_worker()
    intake.db.forked()
    collector = Collector()
    with intake.db.bulk_writes():
        while True:
            try:
                request = pipe.recv()
            except EOFError:
                return
            if request is None:
                return
            try:
                pipe.send(_written(intake, collector, *request))
            except OSError:  # the server is gone
                return


def _written(
    intake: Ingestor,
    collector: Collector,
    batches: list[bytes],
    source: str,
    person: str,
    in_lines: bool,
) -> tuple[str, Any]:
    """The request's outcomes as tuples, or the exception that stopped it (one that cannot
    be pickled is told as its text)."""
    try:
        checked = (from_wire(marshal.loads(batch)) for batch in batches)
        outcomes = ingest_request(intake, checked, source=source, person=person, in_lines=in_lines)
    except Exception as exc:  # the request's to raise, in the server
        return _FAILED, _picklable(exc)
    collector.after(len(outcomes))
    return _OK, [
        (o.index, o.line, o.event_id, o.status, o.reason, o.ticket, o.ticket_action)
        for o in outcomes
    ]


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # any failure to pickle
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
