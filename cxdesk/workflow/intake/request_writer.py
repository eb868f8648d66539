"""Writing requests' checked records in a process of its own (`cxdesk serve`).

In the server's process every thread — the event loop, the requests', the checking
process's feeders — wants the one interpreter lock that the writer takes back after each
statement SQLite runs: a batch written there took a third longer than ingest's, and the
event loop as much again waiting for the lock. Here one process, forked at the server's
start with the server's `Ingestor`, writes each request's checked records as ingest's
writer does, alone, with the write-ahead log copied by a thread of its own; what its batches
remember holds from one request to the next while nothing else writes.

A record stored by a process that dies before it answers is stored: the server, writing the
request again in its own threads from then on (it says so once), tells it back as a
duplicate of itself.
"""

from __future__ import annotations

import marshal
from contextlib import ExitStack

from cxdesk.workflow.intake.collector import Collector
from cxdesk.workflow.intake.feed import from_wire
from cxdesk.workflow.intake.forked_worker import ForkedWorker, settle_forked_worker
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.requests import RecordOutcome, ingest_request

# What the writing process works with: set before it is forked, so that it has it without
# its being pickled (the rules' parsers and the calendars are closures).
_INTAKE: Ingestor | None = None
_HELD = ExitStack()  # in the writing process: its bulk writes, for as long as it runs
_COLLECTOR = Collector()
# What a request counts for towards the writing process's next collection, at the least: each
# leaves tens of objects in reference cycles (its session's, its transaction's, its run's)
# whatever its size, so that a server posted one event at a time would otherwise grow by
# about two kilobytes a request, to gigabytes before `COLLECT_EVERY` records had gone by.
REQUEST_RECORDS = 100


class RequestWriter(ForkedWorker):
    """Each request's checked records written in the process forked at its making."""

    def __init__(self, intake: Ingestor) -> None:
        global _INTAKE
        _INTAKE = intake
        super().__init__("writing", _settle)

    def written(
        self, wire: bytes, *, source: str, person: str, in_lines: bool
    ) -> list[RecordOutcome] | None:
        """Each outcome of the records `wire` holds (marshal's bytes of their checked wire
        form) once written, as `ingest_request` tells them; None once the writing process
        has stopped (the caller writes them)."""
        told: list[RecordOutcome] | None = self.call(_write, wire, source, person, in_lines)
        return told


def _settle() -> None:
    """In the writing process: connections of its own (those in the pool are the server's),
    and the write-ahead log copied by a thread of its own."""
    assert _INTAKE is not None
    settle_forked_worker()
    _INTAKE.db.engine.dispose(close=False)
    _HELD.enter_context(_INTAKE.db.bulk_writes())


def _write(wire: bytes, source: str, person: str, in_lines: bool) -> list[RecordOutcome]:
    """In the writing process: the checked records written, in batches as ever."""
    assert _INTAKE is not None
    checked, size = from_wire(marshal.loads(wire)), _INTAKE.batch_size
    batches = (checked[n : n + size] for n in range(0, len(checked), size))
    try:
        return ingest_request(_INTAKE, batches, source=source, person=person, in_lines=in_lines)
    finally:
        _COLLECTOR.after(max(len(checked), REQUEST_RECORDS))
