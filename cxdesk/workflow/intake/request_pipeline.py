"""A server's way from a request's records to their outcomes (`cxdesk serve`): checked in
the checking process forked at its start (in the request's own thread once that process has
stopped, or where none was started: an app in a test), and written in the request's thread
through a run of the server's one `Ingestor`."""

from __future__ import annotations

from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.intake.request_checker import RequestChecker
from cxdesk.workflow.intake.requests import RecordOutcome, ingest_request


class RequestPipeline:
    """Checks and writes each request's records for a server whose runs are `intake`'s."""

    def __init__(self, intake: Ingestor, *, in_processes: bool) -> None:
        """`in_processes`: fork the checking process now; before the server starts any
        thread of its own (a thread's locks are not taken along)."""
        self.intake = intake
        self.checker: RequestChecker | None = None
        if in_processes:
            self.checker = RequestChecker(intake.terms, intake.work_ahead())

    def ingest(
        self, records: list[Record], *, source: str, person: str, in_lines: bool
    ) -> list[RecordOutcome]:
        """Each record's outcome, in order, as `ingest_request` tells them."""
        check = self.checker.checked if self.checker is not None else None
        batches = self.intake.checked(records, check)
        return ingest_request(self.intake, batches, source=source, person=person, in_lines=in_lines)

    def close(self) -> None:
        if self.checker is not None:
            self.checker.close()
