"""What became of each record an ingest took: the outcome a batch gives it, and the result
handed to callers once the batch's new tickets have their ids."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from cxdesk.workflow.intake.cases import Case
from cxdesk.workflow.intake.rules import Alert
from cxdesk.workflow.intake.validation import Validated


class Outcome(StrEnum):
    STORED = "stored"  # accepted, no rule fired
    CREATED = "created"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class Result:
    """What became of one record."""

    outcome: Outcome
    ticket_id: int | None = None
    alert: Alert | None = None
    reason: str | None = None


class Pending(NamedTuple):
    """A result whose ticket may not have its id until the batch is written. A named tuple:
    a batch makes one for each alert, and these are the cheapest to make."""

    outcome: Outcome
    ticket: Case | int | None = None
    alert: Alert | None = None
    reason: str | None = None

    @property
    def ticket_id(self) -> int | None:
        return self.ticket.id if isinstance(self.ticket, Case) else self.ticket

    def result(self) -> Result:
        return Result(self.outcome, self.ticket_id, self.alert, self.reason)


# Shared by every record they describe: most of a feed is stored with no alert.
STORED = Pending(Outcome.STORED)
DUPLICATE = Pending(Outcome.DUPLICATE)


class Taken(NamedTuple):
    """A record handed over whole, as it was read and checked, and what became of it."""

    line: int
    raw: str
    event: Validated  # the event, or why it was refused
    result: Result
