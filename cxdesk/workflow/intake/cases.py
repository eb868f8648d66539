"""Open cases as ingest keeps them: a case as a batch sees it, and what a run remembers of
customers and their open cases between batches, so that the next batch need not read them
back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from cxdesk.db import WriteStamp
from cxdesk.workflow.loop.assignment import Assigned

MEMORY_LIMIT = 50_000  # customers remembered between batches, so a run's memory stays bounded


@dataclass
class Case:
    """An open case as the batch sees it; implements the SLA planner's `Clocked`."""

    id: int | None
    customer_id: str
    queue_id: str
    stage: str
    priority: str
    opened_at: datetime
    reopened_at: datetime | None
    first_response_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    sla_due: datetime | None = None
    sla_risk_at: datetime | None = None
    resolved_at: datetime | None = None
    paused_seconds: int = 0
    version: int = 1
    updated_at: datetime | None = None  # set by what the batch does to it, as the service does
    assignee: str | None = None
    via_service: bool = False  # alerts go through the service from now on in this batch
    rows: dict[str, Any] = field(default_factory=dict)


class Memory:
    """Customers and their open cases as this run's last batch left them, and who holds how
    much of the open work (`assigned`), so that the next batch need not read them back.

    Trusted only while nothing else has written since that batch began (see `WriteStamp`; on
    PostgreSQL there is no such stamp, so it is never trusted), and forgotten when a
    batch went through the service's commands, whose changes it does not follow, or failed
    part-way. Holds at most `MEMORY_LIMIT` customers, the first remembered leaving first.
    """

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.cases: dict[str, Case | None] = {}  # by customer: their open case, or none
        self.assigned = Assigned()
        self.stamp: WriteStamp | None = None

    def check(self, stamp: WriteStamp | None) -> None:
        """Forget all unless nothing was written since the last batch began."""
        if stamp is None or not stamp.follows(self.stamp):
            self.forget()
        self.stamp = stamp

    def forget(self) -> None:
        self.customers.clear()
        self.cases.clear()
        self.assigned = Assigned()
        self.stamp = None

    def remember(
        self,
        customers: Iterable[Mapping[str, dict[str, Any]]],
        cases: Iterable[Mapping[str, Case | None]],
    ) -> None:
        """Keep what a batch read or made, later mappings over earlier ones; what it found
        here it changed in place."""
        for found in customers:
            self.customers.update(found)
        for opened in cases:
            self.cases.update(opened)
        for held in (self.customers, self.cases):
            for key in list(islice(held, max(0, len(held) - MEMORY_LIMIT))):
                del held[key]
