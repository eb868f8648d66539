"""Writing requests' records in a process of their own (`cxdesk serve`).

A server writes its requests one at a time, and the writing is most of a request's work. In
the server's process it shared one interpreter lock with everything else the requests do
(reading bodies, building answers, HTTP itself) and waited on it. Here one process, forked
when the server starts, writes every request's checked records through the server's
`Ingestor` as a bulk run (`Database.bulk_writes`) for as long as it lives, on connections of
its own; the customers and cases it remembers from one request to the next are its own.

Requests take turns on a pipe to it. A request's batches go one by one as the checking
process sent them (marshal's bytes, never turned into objects here), each written while the
next is checked, then an empty message; its outcomes come back as tuples, or the exception
raised there, with its traceback as the cause. Forked before any thread starts and with no
connection open (SQLite's locks are a process's own: a connection carried across the fork
would leave the writer no user of the database in SQLite's eyes), it shares nothing with the
server but the pipe. If it dies, the server says so once and writes in its own threads from
then on: a request it was writing is written again there, and as ingest is idempotent on
`event_id`, what it had stored is answered as duplicate.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import marshal
import multiprocessing
import pickle
import threading
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from cxdesk.errors import CxdeskError
from cxdesk.i18n import say
from cxdesk.workflow.intake.collector import Collector
from cxdesk.workflow.intake.feed import from_wire
from cxdesk.workflow.intake.forked_worker import STOP_WAIT_S, settle_forked_worker
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.intake.requests import RecordOutcome, ingest_request

logger = logging.getLogger(__name__)

_END = b""  # after a request's batches (marshal's bytes of a list are never empty)
_OK, _FAILED = "ok", "failed"


class WriterStopped(CxdeskError):
    """The server stopped, and killed the writing process, while a request waited for it."""


class RemoteTraceback(Exception):
    """The traceback of an error raised in the writing process: the cause of the error as
    the server raises it again, so that its log shows where the error arose."""

    def __str__(self) -> str:
        return f"\n\n(in the writing process)\n{self.args[0]}"


class RequestWriter:
    """Each request's checked records written in the process forked at its making."""

    def __init__(self, intake: Ingestor) -> None:
        intake.db.close_for_fork()
        context = multiprocessing.get_context("fork")
        self._pipe, theirs = context.Pipe()
        self._process: multiprocessing.process.BaseProcess | None = context.Process(
            target=_serve, args=(intake, theirs, self._pipe), name="cxdesk-writer", daemon=True
        )
        self._process.start()
        theirs.close()  # theirs alone: its end of the pipe closes when it dies
        self._turn = threading.Lock()
        self._closed = False
        # Before multiprocessing's own exit handler, which would wait for it without end:
        # a server that fails between this fork and its `close` ends it all the same.
        atexit.register(self.close)

    @property
    def server_end(self) -> Connection:
        """The server's end of the pipe: another process forked later must close its copy,
        or the writer would never see the server gone."""
        return self._pipe

    def write(
        self,
        batches: list[list[Record]],
        check: Callable[[list[Record]], bytes],
        *,
        source: str,
        person: str,
        in_lines: bool,
    ) -> list[RecordOutcome] | None:
        """Each record's outcome, in order, the `batches` checked by `check` (into marshal's
        bytes of their wire form) and written there; None once the writing process has
        died (the caller writes the records itself). `WriterStopped` once the server has
        closed it."""
        first = check(batches[0])  # checked before the turn: the writer is busy meanwhile
        unchecked: BaseException | None = None
        with self._turn:
            if self._closed:
                raise _stopped()
            if self._process is None:
                return None
            try:
                self._pipe.send((source, person, in_lines))
                self._pipe.send_bytes(first)
                for batch in batches[1:]:  # each checked while the one before is written
                    try:
                        wire = check(batch)
                    except BaseException as exc:  # the writer answers for what it was sent
                        unchecked = exc
                        break
                    self._pipe.send_bytes(wire)
                self._pipe.send_bytes(_END)
                status, told = self._pipe.recv()
            except (EOFError, OSError):
                self._lost()
                return None
        if unchecked is not None:
            raise unchecked
        if status == _FAILED:
            error, trace = told
            raise error from RemoteTraceback(trace)
        return [RecordOutcome(*fields) for fields in told]

    def close(self) -> None:
        """The process ends its run (its last checkpoint) and exits; killed if a request
        under way or its ending takes longer than `STOP_WAIT_S` each. Requests still to
        come get `WriterStopped`."""
        atexit.unregister(self.close)
        self._closed = True
        held = self._turn.acquire(timeout=STOP_WAIT_S)
        try:
            process, self._process = self._process, None
            if process is None:
                return
            if held:
                with contextlib.suppress(OSError):  # it died meanwhile
                    self._pipe.send(None)
                process.join(STOP_WAIT_S)
            if process.is_alive():
                logger.warning("the writing process did not stop; killed")
                process.kill()
                process.join()
        finally:
            if held:
                self._pipe.close()
                self._turn.release()

    def _lost(self) -> None:
        process, self._process = self._process, None
        if self._closed or process is None:  # killed by `close`: the server is stopping
            raise _stopped()
        process.join(1)
        logger.warning(
            "the writing process stopped (exit code %s); writing in this process",
            process.exitcode,
        )


def _stopped() -> WriterStopped:
    return WriterStopped(say("the server stopped before this request was written"))


def _serve(intake: Ingestor, pipe: Connection, servers: Connection) -> None:
    """In the writing process: settled as a worker, writing each request as it comes, as a
    bulk run, until told to stop or the server is gone (its copy of the server's end of
    the pipe closed, so that the server's going ends the pipe)."""
    servers.close()
    settle_forked_worker()
    intake.db.forked()
    collector = Collector()
    with intake.db.bulk_writes():
        while True:
            try:
                request = pipe.recv()
                if request is None:
                    return
                pipe.send(_written(intake, collector, pipe, *request))
            except (EOFError, OSError):  # the server is gone
                return


def _written(
    intake: Ingestor,
    collector: Collector,
    pipe: Connection,
    source: str,
    person: str,
    in_lines: bool,
) -> tuple[str, Any]:
    """The request's outcomes as tuples, or the exception that stopped it and its traceback
    (an exception that cannot be pickled is told as its text); all its batches read either
    way, so that the next request's messages are the next request's."""
    batches = _Batches(pipe)
    try:
        outcomes = ingest_request(intake, batches, source=source, person=person, in_lines=in_lines)
    except Exception as exc:  # the request's to raise, in the server
        batches.drain()
        return _FAILED, (_picklable(exc), traceback.format_exc())
    collector.after(len(outcomes))
    return _OK, [
        (o.index, o.line, o.event_id, o.status, o.reason, o.ticket, o.ticket_action)
        for o in outcomes
    ]


class _Batches:
    """A request's batches as they come, checked, until its end."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe
        self.ended = False

    def __iter__(self) -> Iterator[list[Any]]:
        while not self.ended:
            data = self.pipe.recv_bytes()
            self.ended = data == _END
            if not self.ended:
                yield from_wire(marshal.loads(data))

    def drain(self) -> None:
        """Read what is left of the request unwritten."""
        while not self.ended:
            self.ended = self.pipe.recv_bytes() == _END


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # any failure to pickle
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
