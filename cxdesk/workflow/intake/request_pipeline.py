"""A server's way from a request's records to their outcomes (`cxdesk serve`): checked in
the checking process forked at its start and written in the writing process forked beside it
(each in the request's own thread once its process has stopped, or where none was started:
an app in a test), through runs of the server's one `Ingestor`."""

from __future__ import annotations

from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.intake.request_checker import RequestChecker
from cxdesk.workflow.intake.request_writer import RequestWriter
from cxdesk.workflow.intake.requests import RecordOutcome, ingest_request


class RequestPipeline:
    """Checks and writes each request's records for a server whose runs are `intake`'s."""

    def __init__(self, intake: Ingestor, *, in_processes: bool) -> None:
        """`in_processes`: fork the checking and the writing process now; before the server
        starts any thread of its own (a thread's locks are not taken along)."""
        self.intake = intake
        self.checker: RequestChecker | None = None
        self.writer: RequestWriter | None = None
        if in_processes:  # the writer first: the checker's pool starts threads
            self.writer = RequestWriter(intake)
            self.checker = RequestChecker(
                intake.terms, intake.work_ahead(), unshared=(self.writer.server_end,)
            )

    def ingest(
        self, records: list[Record], *, source: str, person: str, in_lines: bool
    ) -> list[RecordOutcome]:
        """Each record's outcome, in order, as `ingest_request` tells them."""
        if self.checker is not None and self.writer is not None:
            size = self.intake.batch_size
            batches = [records[n : n + size] for n in range(0, len(records), size)]
            outcomes = self.writer.write(
                batches, self.checker.checked_wire, source=source, person=person, in_lines=in_lines
            )
            if outcomes is not None:
                return outcomes
        check = self.checker.checked if self.checker is not None else None
        return ingest_request(
            self.intake,
            self.intake.checked(records, check),
            source=source,
            person=person,
            in_lines=in_lines,
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.checker is not None:
            self.checker.close()
