"""Ingest: feedback records in, bad ones quarantined, alerts turned into tickets, in batches.

Each batch is one transaction (see `batch`). Within it the work is set-based — one query for
known event ids, one for the customers and one for the open cases the run does not remember
from its last batch — and rows are written with executemany; reading, validating, judging
rules and binding event rows happen a batch ahead in another process (see feed), so a
million-line feed runs at a good fraction of raw insert speed. Ticket openings and alert
attachments are computed with the same SLA planner, notes and audit chain as the service
layer; the rare paths (a follow-up answer, an alert on a case awaiting verification) go
through the service's commands inside the same transaction.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session

from cxdesk.config import Settings
from cxdesk.db import Database, write_stamp
from cxdesk.models import Customer, FeedbackEvent, Ticket
from cxdesk.models.base import table_of
from cxdesk.workflow.access.org import all_queues
from cxdesk.workflow.basics.progress import Progress
from cxdesk.workflow.basics.text import decodable
from cxdesk.workflow.clocks.sla import SlaPlanner, planned
from cxdesk.workflow.intake.batch import Batch
from cxdesk.workflow.intake.cases import Memory
from cxdesk.workflow.intake.collector import collections_paused
from cxdesk.workflow.intake.event_rows import EventRows
from cxdesk.workflow.intake.events import FeedbackEventIn, Fired, ValidEvent
from cxdesk.workflow.intake.feed import (
    Ahead,
    Checked,
    CheckedFeed,
    FeedSource,
    Origin,
    WorkAhead,
    checked_batches,
)
from cxdesk.workflow.intake.outcomes import STORED, Outcome, Pending, Result, Taken
from cxdesk.workflow.intake.readers import BATCH_SIZE, Record
from cxdesk.workflow.intake.rules import RuleFailure, RuleSet, event_facts
from cxdesk.workflow.intake.validation import Terms
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService

logger = logging.getLogger(__name__)

_NO_ORIGIN: Origin = ("jsonl", None)  # an event handed over, not read from a source


@dataclass
class IngestSummary:
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    alerts: int = 0
    tickets_created: int = 0
    tickets_updated: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Ingestor:
    """Feeds validated events through dedup, customers, rules and tickets, batch by batch."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        source: str,
        clock: Callable[[], datetime],
        batch_size: int = BATCH_SIZE,
        progress: Progress | None = None,
        lines: int | None = None,
        person: str | None = None,
    ) -> None:
        """`progress` is told the line each stored batch ends at, of `lines` if known;
        `person` is who handed the records over, named in the audit rows the run writes
        (a server's caller; by default the person the database was opened for)."""
        self.db = db
        self.person = person
        self.progress = progress
        self.lines = lines
        self.settings = settings
        # As the quarantine stores it: a path's bytes that are not UTF-8 cannot be stored.
        self.source = decodable(source)
        self.clock = clock
        self.batch_size = batch_size
        self.terms = Terms(settings.timezone, settings.ingest, clock)
        self.rules = RuleSet(settings.rules)
        self.planner = SlaPlanner(settings)
        self.service = TicketService(db, settings, SYSTEM_ACTOR)
        self.summary = IngestSummary()
        self.event_rows = EventRows(db.engine.dialect)
        self.memory = Memory()
        # One batch at a time from this process's runs, whichever thread: one waiting on
        # SQLite's write lock instead would sleep in its busy handler, and wake up to tens
        # of milliseconds after the lock came free.
        self._writing = threading.Lock()
        self.rule_failures: dict[str, RuleFailure] = {}  # by rule, for the run's report
        self._updated: set[int] = set()
        with db.session() as session:
            self.queues = all_queues(session)

    def for_source(self, source: str, person: str | None) -> Ingestor:
        """A run of its own for records from `source` handed over by `person` (a server's
        request), sharing what this one compiled and read at its start (rules, clocks,
        queues) and what its batches remember; its batches and this one's take turns."""
        run = copy.copy(self)
        run.source, run.person = decodable(source), person
        run.summary, run.rule_failures, run._updated = IngestSummary(), {}, set()
        run.progress, run.lines = None, None
        return run

    # -- entry points ----------------------------------------------------------------------

    def run_feed(self, source: FeedSource) -> IngestSummary:
        """Ingest a file or standard input, read, validated and judged by the alert rules a
        batch ahead (in a second process when the batches are big enough)."""
        ahead = self.work_ahead()
        with CheckedFeed(source, self.terms, self.batch_size, ahead) as batches:
            return self._run(batches)

    def work_ahead(self) -> WorkAhead:
        """What the reading process works out for each valid event, as the writer would: the
        rules it fires (judged by what it carries), its row bound for the driver (where the
        driver takes rows as sequences), and the clocks of the case its alert would open."""
        rules, planner, queues, rows = self.rules, self.planner, self.queues, self.event_rows
        bind = rows.bind if rows.bound_ahead else None

        def work(event: ValidEvent, raw: str) -> Ahead:
            fired = rules.judge_alone(event)
            row = None if bind is None else bind(event, raw)
            alert = rules.alert_of(fired) if fired else None
            if alert is None:
                return fired, row, None
            queue = queues[alert.decisive.queue]
            clocks = planner.opening_clocks(queue, alert.priority, event.occurred_at)
            return fired, row, (planned(clocks), rows.bind_times(clocks))

        return work

    def run(self, records: Iterable[Record | None]) -> IngestSummary:
        """Ingest records read here; a `None` among them (the feed went quiet) commits what
        has come."""
        return self._run(checked_batches(records, self.terms, self.batch_size))

    def checked(
        self, records: list[Record], check: Callable[[list[Record]], list[Checked]] | None = None
    ) -> Iterator[list[Checked]]:
        """Records handed over whole (one request's to a server) in batches as ever, checked
        by `check` (a server's checking process), else here."""
        if check is None:
            yield from checked_batches(records, self.terms, self.batch_size)
            return
        for n in range(0, len(records), self.batch_size):
            yield check(records[n : n + self.batch_size])

    def ingest_batches(self, batches: Iterable[list[Checked]]) -> list[Taken]:
        """Records handed over whole, checked, and what became of each, in order. Without the
        bulk run's machinery — the write-ahead log copied by a thread, the collector paused —
        which belongs to a process, not to one of the many requests a server runs at once."""
        taken: list[Taken] = []
        for batch in batches:
            outcomes = self._commit(batch)
            self.summary.read += len(batch)
            taken.extend(
                Taken(line, raw, event, outcome.result())
                for (line, raw, event, *_), outcome in zip(batch, outcomes, strict=True)
            )
        self._report()
        return taken

    def _run(self, batches: Iterable[list[Checked]]) -> IngestSummary:
        tables = (table_of(FeedbackEvent), table_of(Customer), table_of(Ticket))
        with collections_paused() as collector, self.db.bulk_writes(*tables) as growth:
            for batch in batches:
                self._commit(batch)
                self.summary.read += len(batch)  # once stored: a stopped run says what it kept
                collector.after(len(batch))
                growth.grew(len(batch))
                if self.progress is not None:
                    self.progress("ingest", batch[-1][0], self.lines)
                logger.debug("%s: %d records stored", self.source, self.summary.read)
                del batch  # not held while the next one is read: one batch in memory, not two
        self._report()
        return self.summary

    def _report(self) -> None:
        logger.info("ingested %s: %s", self.source, self.summary.as_dict())
        if self.summary.quarantined:
            logger.warning("%s: %d records quarantined", self.source, self.summary.quarantined)
        for failure in self.rule_failures.values():
            logger.warning("%s: %s", self.source, failure)

    def ingest_event(
        self,
        event: FeedbackEventIn,
        raw: str,
        received_at: datetime | None = None,
        session: Session | None = None,
    ) -> Result:
        """One already-validated event, in `session` (the caller's write transaction: the
        demo's replay) or in a transaction of its own."""
        self.summary.read += 1
        valid = event.flat(self.settings.timezone)
        item: Checked = (0, raw, valid, _NO_ORIGIN, None, None, None)
        own = self.db.write(person=self.person) if session is None else nullcontext(session)
        with own as unit:
            (outcome,) = Batch(self, unit, received_at or self.clock(), Memory()).run([item])
        self._count([outcome])
        return outcome.result()

    def note_failed_rules(
        self, fired: Fired, line: int, event: ValidEvent, customer: dict[str, Any]
    ) -> None:
        """Count the rules that failed on an event; the first failure of each is explained."""
        for rule in self.rules.failed(fired):
            if (known := self.rule_failures.get(rule.name)) is not None:
                known.count += 1
                continue
            facts = event_facts(event, SimpleNamespace(**customer))
            why = self.rules.why_failed(rule, facts)
            self.rule_failures[rule.name] = RuleFailure(rule.name, line, event.event_id, why)

    # -- batches ---------------------------------------------------------------------------

    def _commit(self, items: list[Checked]) -> list[Pending]:
        with self._writing:  # what the batches remember, too, is changed by one at a time
            try:
                with self.db.write(person=self.person) as session:
                    self.memory.check(write_stamp(session.connection()))
                    batch = Batch(self, session, self.clock(), self.memory)
                    outcomes = batch.run(items)
            except BaseException:
                self.memory.forget()  # the batch may have changed what it remembers, undone
                raise
            batch.remember()
        self._count(outcomes)
        return outcomes

    def _count(self, outcomes: list[Pending]) -> None:
        s = self.summary
        for result in outcomes:
            if result is STORED:  # most of a feed: accepted, nothing more to count
                s.accepted += 1
                continue
            match result.outcome:
                case Outcome.DUPLICATE:
                    s.duplicates += 1
                case Outcome.QUARANTINED:
                    s.quarantined += 1
                case _:
                    s.accepted += 1
            if result.alert is not None:
                s.alerts += 1
            if result.outcome is Outcome.CREATED:
                s.tickets_created += 1
            elif result.outcome is Outcome.UPDATED and (ticket := result.ticket_id) is not None:
                self._updated.add(ticket)
        s.tickets_updated = len(self._updated)
