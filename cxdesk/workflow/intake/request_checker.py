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

import marshal

from cxdesk.workflow.intake.collector import Collector
from cxdesk.workflow.intake.feed import Checked, WorkAhead, checked, from_wire, to_wire
from cxdesk.workflow.intake.forked_worker import ForkedWorker, settle_forked_worker
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.intake.validation import Terms

# What the checking process works with: set before it is forked, so that it has them without
# any being pickled (the rules' parsers and the calendars are closures).
_WORK: tuple[Terms, WorkAhead] | None = None
_COLLECTOR = Collector()


class RequestChecker(ForkedWorker):
    """Each request's records checked in the process forked at its making."""

    def __init__(self, terms: Terms, ahead: WorkAhead) -> None:
        global _WORK
        _WORK = (terms, ahead)
        self.terms = terms
        super().__init__("checking", settle_forked_worker)

    def checked(self, records: list[Record]) -> list[Checked]:
        """The records checked, with the work ahead done, in order."""
        wire: bytes | None = self.call(_check, records)
        return from_wire(marshal.loads(wire)) if wire is not None else self._here(records)

    def _here(self, records: list[Record]) -> list[Checked]:
        timezone, window = self.terms.timezone, self.terms.window()
        return [checked(record, timezone, window) for record in records]


def _check(records: list[Record]) -> bytes:
    """In the checking process: the records checked, as marshal's bytes of the wire form."""
    assert _WORK is not None
    terms, ahead = _WORK
    timezone, window = terms.timezone, terms.window()
    batch = [checked(record, timezone, window, ahead) for record in records]
    _COLLECTOR.after(len(batch))
    return marshal.dumps(to_wire(batch))
