"""A server's way from a request's records to their outcomes (`cxdesk serve`): checked in
the checking process and written in the writing process, both forked at its start, each
done in the request's own thread once its process has stopped; an app that starts neither
(a test's) checks and writes in its threads."""

from __future__ import annotations

from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.intake.request_checker import RequestChecker
from cxdesk.workflow.intake.request_writer import RequestWriter
from cxdesk.workflow.intake.requests import RecordOutcome, ingest_request


class RequestPipeline:
    """Checks and writes each request's records for a server whose runs are `intake`'s."""

    def __init__(self, intake: Ingestor, *, in_processes: bool) -> None:
        """`in_processes`: fork the checking and the writing processes now; before the
        server starts any thread of its own (a thread's locks are not taken along)."""
        self.intake = intake
        self.checker: RequestChecker | None = None
        self.writer: RequestWriter | None = None
        if in_processes:
            self.checker = RequestChecker(intake.terms, intake.work_ahead())
            self.writer = RequestWriter(intake)

    def ingest(
        self, records: list[Record], *, source: str, person: str, in_lines: bool
    ) -> list[RecordOutcome]:
        """Each record's outcome, in order, as `ingest_request` tells them."""
        if self.checker is not None and self.writer is not None:
            wire = self.checker.wire(records)
            told = self.writer.written(wire, source=source, person=person, in_lines=in_lines)
            if told is not None:
                return told
        check = self.checker.checked if self.checker is not None else None
        batches = self.intake.checked(records, check)
        return ingest_request(self.intake, batches, source=source, person=person, in_lines=in_lines)

    def close(self) -> None:
        for process in (self.checker, self.writer):
            if process is not None:
                process.close()
