"""Ingest: feedback records in, bad ones quarantined, alerts turned into tickets, in batches.

Each batch is one transaction. Within it the work is set-based — one query for known event
ids, one for the customers and one for the open cases the run does not remember from its
last batch — and rows are written with executemany; reading, validating, judging rules and
binding event rows happen a batch ahead in another process (see feed), so a million-line
feed runs at a good fraction of raw insert speed. Ticket openings and alert
attachments are computed here with the same SLA planner, notes and audit chain as the
service layer; the rare paths (a follow-up answer, an alert on a case awaiting verification)
go through the service's commands inside the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import islice
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.db import (
    Database,
    WriteStamp,
    insert_rows,
    one_of,
    serialise,
    update_rows,
    write_stamp,
)
from cxdesk.errors import NotFound
from cxdesk.models import (
    Customer,
    FeedbackEvent,
    QuarantinedRecord,
    Stage,
    Ticket,
    TicketKind,
    TimelineEntry,
)
from cxdesk.workflow.access.org import all_queues
from cxdesk.workflow.audit.chain import AuditChain, timeline_row_digest
from cxdesk.workflow.basics.refs import parse_ref, ticket_ref
from cxdesk.workflow.basics.text import decodable, storable
from cxdesk.workflow.clocks.sla import SlaPlanner, planned, unplanned
from cxdesk.workflow.intake.collector import collections_paused
from cxdesk.workflow.intake.event_rows import EventRows
from cxdesk.workflow.intake.events import FeedbackEventIn, Fired, ValidEvent
from cxdesk.workflow.intake.feed import (
    Ahead,
    Checked,
    CheckedFeed,
    ClocksAhead,
    FeedSource,
    Origin,
    WorkAhead,
    checked_batches,
)
from cxdesk.workflow.intake.readers import BATCH_SIZE, Record
from cxdesk.workflow.intake.rules import Alert, RuleFailure, RuleSet, event_facts
from cxdesk.workflow.intake.validation import Terms
from cxdesk.workflow.loop.assignment import Assigner, language_of
from cxdesk.workflow.loop.commands import AttachAlert, RecordFollowupAnswer
from cxdesk.workflow.loop.opening import alert_entry, is_more_urgent, opening_record
from cxdesk.workflow.loop.service import (
    SYSTEM_ACTOR,
    TicketService,
)

CUSTOMER_FIELDS = ("name", "phone", "email", "tier")
# A customer's fields as an event gives them (None where it leaves one out) and as stored.
_given_customer_fields = itemgetter(
    *(ValidEvent._fields.index(f"customer_{name}") for name in CUSTOMER_FIELDS)
)
_stored_customer_fields = itemgetter(*CUSTOMER_FIELDS)


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


class _Pending(NamedTuple):
    """A result whose ticket may not have its id until the batch is written. A named tuple:
    a batch makes one for each alert, in a third of a frozen dataclass's time."""

    outcome: Outcome
    ticket: _Case | int | None = None
    alert: Alert | None = None
    reason: str | None = None

    @property
    def ticket_id(self) -> int | None:
        return self.ticket.id if isinstance(self.ticket, _Case) else self.ticket

    def result(self) -> Result:
        return Result(self.outcome, self.ticket_id, self.alert, self.reason)


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


logger = logging.getLogger(__name__)
_STORED = _Pending(Outcome.STORED)
_DUPLICATE = _Pending(Outcome.DUPLICATE)


@dataclass
class _Case:
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


class _Memory:
    """Customers and their open cases as this run's last batch left them, so that the next
    batch need not read them back (a tenth of the writer's time went to those reads).

    Trusted only while nothing else has written since that batch began (see `WriteStamp`; on
    PostgreSQL there is no such stamp, so it is never trusted), and forgotten when a
    batch went through the service's commands, whose changes it does not follow, or failed
    part-way. Holds at most `MEMORY_LIMIT` customers, the first remembered leaving first.
    """

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.cases: dict[str, _Case | None] = {}  # by customer: their open case, or none
        self.stamp: WriteStamp | None = None

    def check(self, stamp: WriteStamp | None) -> None:
        """Forget all unless nothing was written since the last batch began."""
        if stamp is None or not stamp.follows(self.stamp):
            self.forget()
        self.stamp = stamp

    def forget(self) -> None:
        self.customers.clear()
        self.cases.clear()
        self.stamp = None

    def remember(self, batch: _Batch) -> None:
        if batch.service_work:
            self.forget()
            return
        # What the batch read or made: what it found here it changed in place.
        self.customers.update(batch.read_customers)
        self.customers.update(batch.new_customers)
        self.cases.update(batch.read_cases)
        self.cases.update(batch.new_cases)
        for held in (self.customers, self.cases):
            for key in list(islice(held, max(0, len(held) - MEMORY_LIMIT))):
                del held[key]


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
    ) -> None:
        self.db = db
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
        self.memory = _Memory()
        self.rule_failures: dict[str, RuleFailure] = {}  # by rule, for the run's report
        self._updated: set[int] = set()
        with db.session() as session:
            self.queues = all_queues(session)

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

    def _run(self, batches: Iterable[list[Checked]]) -> IngestSummary:
        tables = (FeedbackEvent.__table__, Customer.__table__, Ticket.__table__)
        with collections_paused() as collector, self.db.bulk_writes(*tables) as growth:
            for batch in batches:
                self._commit(batch)
                self.summary.read += len(batch)  # once stored: a stopped run says what it kept
                collector.after(len(batch))
                growth.grew(len(batch))
                logger.debug("%s: %d records stored", self.source, self.summary.read)
        logger.info("ingested %s: %s", self.source, self.summary.as_dict())
        if self.summary.quarantined:
            logger.warning("%s: %d records quarantined", self.source, self.summary.quarantined)
        for failure in self.rule_failures.values():
            logger.warning("%s: %s", self.source, failure)
        return self.summary

    def ingest_event(
        self, event: FeedbackEventIn, raw: str, received_at: datetime | None = None
    ) -> Result:
        """One already-validated event in a transaction of its own (the demo's replay)."""
        self.summary.read += 1
        valid = event.flat(self.settings.timezone)
        with self.db.write() as session:
            (outcome,) = _Batch(self, session, received_at or self.clock(), _Memory()).run(
                [(0, raw, valid, _NO_ORIGIN, None, None, None)]
            )
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

    def _commit(self, items: list[Checked]) -> None:
        try:
            with self.db.write() as session:
                self.memory.check(write_stamp(session.connection()))
                batch = _Batch(self, session, self.clock(), self.memory)
                outcomes = batch.run(items)
        except BaseException:
            self.memory.forget()  # the batch may have changed what it remembers, then undone
            raise
        self.memory.remember(batch)
        self._count(outcomes)

    def _count(self, outcomes: list[_Pending]) -> None:
        s = self.summary
        for result in outcomes:
            if result is _STORED:  # most of a feed: accepted, nothing more to count
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


class _Batch:
    """One transaction's worth of records."""

    def __init__(
        self, ingestor: Ingestor, session: Session, received_at: datetime, memory: _Memory
    ) -> None:
        self.ing = ingestor
        self.session = session
        self.received_at = received_at
        self.memory = memory
        self.customers: dict[str, dict[str, Any]] = {}
        self.tickets: set[int] = set()  # existing tickets that the batch's follow-ups name
        # Read from the database, not remembered: customers, and open cases (None: none open).
        self.read_customers: dict[str, dict[str, Any]] = {}
        self.read_cases: dict[str, _Case | None] = {}
        self.events: list[list[Any]] = []  # rows bound for the driver, as EventRows makes them
        self.timeline: list[dict[str, Any]] = []
        self.quarantine: list[dict[str, Any]] = []
        self.accepted_lines: list[int] = []
        self.cases: dict[str, _Case] = {}
        # What the batch writes, by customer: new and changed customers, new cases, cases
        # that gained an alert, and those of them whose priority rose (their clocks with it).
        self.new_customers: dict[str, dict[str, Any]] = {}
        self.changed_customers: dict[str, dict[str, Any]] = {}
        self.new_cases: dict[str, _Case] = {}
        self.changed_cases: dict[str, _Case] = {}
        self.raised_cases: set[str] = set()
        self.service_work: list[Callable[[], None]] = []
        self.assigner = Assigner(session)
        self.audit: list[dict[str, Any]] = []

    def run(self, items: list[Checked]) -> list[_Pending]:
        # One batch at a time across runs, as SQLite's write lock has it: a batch decides
        # from what it reads which customers and cases are new, and another run's batch
        # in between would insert the same customer or open a second case.
        serialise(self.session.connection(), INGEST_LOCK)
        valid = [item[2] for item in items if not isinstance(item[2], str)]  # item: Checked
        known = self._known_event_ids([ev.event_id for ev in valid])
        self.tickets = self._existing_tickets(
            [ev.ticket_id for ev in valid if ev.kind == "followup" and ev.ticket_id]
        )
        self.customers = self._customers([ev for ev in valid if ev.event_id not in known])
        self._load_open_cases([ev.customer_id for ev in valid])
        pending: list[_Pending] = []
        for line, raw, event, origin, fired, row, clocks in items:
            if isinstance(event, str):
                pending.append(self._quarantine(line, raw, origin, event))
            elif event.event_id in known:
                pending.append(_DUPLICATE)
                self._resolved(line)
            else:
                outcome = self._accept(line, raw, origin, event, fired, row, clocks)
                if outcome.outcome is not Outcome.QUARANTINED:
                    known.add(event.event_id)
                pending.append(outcome)
        self._write()
        return pending

    # -- lookups ---------------------------------------------------------------------------

    def _one_of(self, column: Any, keys: Iterable[Any]) -> Any:
        return one_of(col(column), list(set(keys)), self.session.connection().dialect)

    def _known_event_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        event_id = FeedbackEvent.event_id
        return set(self._scalars(select(event_id).where(self._one_of(event_id, ids))))

    def _scalars(self, statement: Any) -> list[Any]:
        """A Core query on the batch's connection: no ORM machinery for plain columns."""
        return list(self.session.connection().execute(statement).scalars())

    def _rows(self, statement: Any) -> list[Any]:
        return list(self.session.connection().execute(statement))

    def _existing_tickets(self, refs: list[str]) -> set[int]:
        numbers = set()
        for ref in refs:
            try:
                numbers.add(parse_ref(ref))
            except NotFound:
                continue
        if not numbers:
            return set()
        return set(self._scalars(select(Ticket.id).where(self._one_of(Ticket.id, numbers))))

    def _customers(self, events: list[ValidEvent]) -> dict[str, dict[str, Any]]:
        """The batch's customers as rows, known ones loaded, then updated event by event."""
        ids = {ev.customer_id for ev in events}
        remembered = self.memory.customers
        rows = {i: remembered[i] for i in ids if i in remembered}
        unknown = [i for i in ids if i not in rows]
        columns = (Customer.id, Customer.name, Customer.phone, Customer.email, Customer.tier)
        if unknown:
            read = self.read_customers
            for values in self._rows(select(*columns).where(self._one_of(Customer.id, unknown))):
                row = dict(zip(("id", *CUSTOMER_FIELDS), values, strict=True))
                rows[values[0]] = read[values[0]] = row
        return rows

    def _load_open_cases(self, customer_ids: list[str]) -> None:
        remembered = self.memory.cases
        unknown = []
        for customer_id in set(customer_ids):
            if customer_id not in remembered:
                unknown.append(customer_id)
            elif (case := remembered[customer_id]) is not None:
                self.cases[customer_id] = case
        if unknown:
            self.read_cases = dict.fromkeys(unknown)
            # Plain columns, not ORM objects: the session's identity map must not hold copies
            # that the bulk UPDATE below would leave stale for the service's commands.
            statement = (
                select(*_CASE_COLUMNS)
                .where(
                    self._one_of(Ticket.customer_id, unknown),
                    Ticket.kind == TicketKind.CASE,
                    Ticket.stage != Stage.CLOSED,
                )
                .order_by(col(Ticket.id))
                .with_for_update()
            )
            for values in self._rows(statement):
                case = _Case(**{c.key: v for c, v in zip(_CASE_COLUMNS, values, strict=True)})
                self.cases[case.customer_id] = self.read_cases[case.customer_id] = case

    # -- one record ------------------------------------------------------------------------

    def _quarantine(self, line: int, raw: str, origin: Origin, reason: str) -> _Pending:
        self.quarantine.append(
            {
                "source": self.ing.source,
                "line": line,
                "raw": storable(raw),
                "format": origin[0],
                "csv_header": None if origin[1] is None else storable(origin[1]),
                "reason": storable(f"line {line}: {reason}"),
                "received_at": self.received_at,
                "resolved": False,
            }
        )
        return _Pending(Outcome.QUARANTINED, reason=reason)

    def _resolved(self, line: int) -> None:
        """A line of the source was accepted: any earlier quarantine of it is resolved."""
        if line:
            self.accepted_lines.append(line)

    def _accept(
        self,
        line: int,
        raw: str,
        origin: Origin,
        event: ValidEvent,
        fired: Fired | None,
        row: list[Any] | None,
        clocks: ClocksAhead | None,
    ) -> _Pending:
        """An event not seen before, with what was worked out for it ahead."""
        if event.kind == "followup":
            try:
                number = parse_ref(event.ticket_id or "")
            except NotFound as exc:
                return self._quarantine(line, raw, origin, f"ticket_id: {exc}")
            if number not in self.tickets:
                return self._quarantine(
                    line, raw, origin, f"ticket_id: no ticket {ticket_ref(number)}"
                )
        self._resolved(line)
        customer = self._upsert_customer(event)
        if row is None:
            row = self.ing.event_rows.bind(event, raw)
        self.events.append(row)
        ticket = self.ing.event_rows.ticket  # where the row's ticket goes
        if event.kind == "followup":
            row[ticket] = number
            self.service_work.append(lambda: self._followup(number, event))
            return _Pending(Outcome.UPDATED, number)
        rules = self.ing.rules
        if fired is None:  # not judged ahead: the stored customer has a say
            fired = rules.fired(event_facts(event, SimpleNamespace(**customer)))
        if not fired:  # most events: no rule fired
            return _STORED
        if min(fired) < 0:
            self.ing.note_failed_rules(fired, line, event, customer)
        alert = rules.alert_of(fired)
        if alert is None:  # the rules that did not hold failed
            return _STORED
        self.ing.event_rows.remember_time(event, row)
        case = self.cases.get(event.customer_id)
        if case is None:
            case = row[ticket] = self._open_case(event, alert, clocks)
            return _Pending(Outcome.CREATED, case, alert)
        row[ticket] = case  # its id once the batch is written
        if case.via_service or case.stage == Stage.VERIFY:
            case.via_service = True
            self.service_work.append(lambda: self._attach_via_service(case, alert, event))
        else:
            self._attach(case, alert, event)
        return _Pending(Outcome.UPDATED, case, alert)

    def _upsert_customer(self, event: ValidEvent) -> dict[str, Any]:
        key = event.customer_id
        row = self.customers.get(key)
        given = _given_customer_fields(event)
        if row is None:  # new: as the event gives it
            name, phone, email, tier = given  # in CUSTOMER_FIELDS' order
            row = {"id": key, "name": name, "phone": phone, "email": email, "tier": tier}
            self.customers[key] = self.new_customers[key] = row
            return row
        if given == _stored_customer_fields(row):
            return row  # most events: the customer as stored
        changed = False
        for name, value in zip(CUSTOMER_FIELDS, given, strict=True):
            if value is not None and value != row[name]:
                row[name] = value
                changed = True
        if changed and key not in self.new_customers:
            self.changed_customers[key] = row
        return row

    def _open_case(self, event: ValidEvent, alert: Alert, ahead: ClocksAhead | None) -> _Case:
        """A new case for the alert, with the clocks planned ahead if they were."""
        rule = alert.decisive
        at = event.occurred_at
        queue = self.ing.queues[rule.queue]
        if ahead is None:
            clocks = self.ing.planner.opening_clocks(queue, alert.priority, at)
        else:
            planned_clocks, texts = ahead
            clocks = unplanned(planned_clocks)
            self.ing.event_rows.remember_times(clocks, texts)
        first_response_due, resolution_due, sla_due, sla_risk_at = clocks
        case = _Case(
            id=None,
            customer_id=event.customer_id,
            queue_id=rule.queue,
            stage=Stage.NEW,
            priority=alert.priority,
            opened_at=at,
            reopened_at=None,
            first_response_at=None,
            first_response_due=first_response_due,
            resolution_due=resolution_due,
            sla_due=sla_due,
            sla_risk_at=sla_risk_at,
            updated_at=at,
        )
        case.rows = {"rule": rule.name, "tags": alert.tags, "title": ticket_title(event)}
        case.assignee = self.assigner.pick(
            queue,
            priority=alert.priority,
            language=language_of(event.comment),
            channel=event.channel,
        )
        record = opening_record(
            queue_id=rule.queue,
            mode=queue.assignment,
            priority=alert.priority,
            rule=rule.name,
            event_id=event.event_id,
            assignee=case.assignee,
        )
        entries = [
            {
                "ticket_id": case,  # its id once the batch is written
                "at": at,
                "actor": SYSTEM_ACTOR,
                "kind": entry.kind,
                "body": entry.body,
                "event_id": entry.event_id,
                "data": entry.data,
            }
            for entry in record.entries
        ]
        self.timeline.extend(entries)
        self.audit.append(
            {
                "case": case,
                "at": at,
                "action": "open",
                "detail": dict(record.detail),
                "entries": entries,
            }
        )
        self.cases[event.customer_id] = self.new_cases[event.customer_id] = case
        return case

    def _attach(self, case: _Case, alert: Alert, event: ValidEvent) -> None:
        rule = alert.decisive
        raised_from = None
        detail: dict[str, Any] = {"rule": rule.name, "event": event.event_id}
        if is_more_urgent(alert.priority, case.priority):
            raised_from = case.priority
            detail.update(priority_from=case.priority, priority_to=alert.priority)
            case.priority = alert.priority
            self.ing.planner.start_clocks(
                case, self.ing.queues[case.queue_id], case.reopened_at or case.opened_at
            )
            self.raised_cases.add(case.customer_id)
        case.version += 1
        case.updated_at = event.occurred_at
        if case.customer_id not in self.new_cases:
            self.changed_cases[case.customer_id] = case
        detail["state"] = {"priority": case.priority}  # stage and assignee stay as they were
        alerted = self._timeline(case, event, alert_entry(rule.name, alert.priority, raised_from))
        self.audit.append(
            {
                "case": case,
                "at": event.occurred_at,
                "action": "attach",
                "detail": detail,
                "entries": [alerted],
            }
        )

    def _timeline(
        self, case: _Case, event: ValidEvent, entry: tuple[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """Add an alert entry for `case`; returned for its audit row to record."""
        body, data = entry
        row = {
            "ticket_id": case,  # its id once the batch is written
            "at": event.occurred_at,
            "actor": SYSTEM_ACTOR,
            "kind": "alert",
            "body": body,
            "event_id": event.event_id,
            "data": data,
        }
        self.timeline.append(row)
        return row

    # -- work done by the service inside this transaction ----------------------------------

    def _followup(self, ticket_id: int, answer: ValidEvent) -> None:
        event = self.session.get_one(FeedbackEvent, answer.event_id)
        self.ing.service.handle(
            RecordFollowupAnswer(ticket_id, event, at=answer.occurred_at), self.session
        )

    def _attach_via_service(self, case: _Case, alert: Alert, event: ValidEvent) -> None:
        assert case.id is not None
        self.ing.service.handle(
            AttachAlert(
                case.id,
                priority=alert.priority,
                rule=alert.decisive.name,
                event_id=event.event_id,
                at=event.occurred_at,
            ),
            self.session,
        )

    # -- writing ---------------------------------------------------------------------------

    def _write(self) -> None:
        session = self.session
        insert_rows(
            session.connection(),
            Customer.__table__,
            [
                {
                    **c,
                    "attributes": {},
                    "created_at": self.received_at,
                    "updated_at": self.received_at,
                }
                for c in self.new_customers.values()
            ],
        )
        update_rows(
            session.connection(),
            Customer.__table__,
            [{**c, "updated_at": self.received_at} for c in self.changed_customers.values()],
        )
        self._insert_new_cases()
        for entry in self.timeline:
            entry["ticket_id"] = entry["ticket_id"].id
        connection = session.connection()
        self.ing.event_rows.write(connection, self.events, self.received_at)
        insert_rows(connection, TimelineEntry.__table__, self.timeline)
        self._update_changed_cases()
        if self.audit:
            chain = AuditChain(session)
            for entry in self.audit:
                detail = entry["detail"]
                detail["timeline"] = [timeline_row_digest(chain.key, e) for e in entry["entries"]]
                chain.add(
                    at=entry["at"],
                    actor=SYSTEM_ACTOR,
                    action=entry["action"],
                    ticket_id=entry["case"].id,
                    detail=detail,
                )
            chain.write()
        for work in self.service_work:
            work()
        self._write_quarantine()

    def _insert_new_cases(self) -> None:
        new = list(self.new_cases.values())
        if not new:
            return
        for case, number in zip(new, self._allocate_ticket_ids(len(new)), strict=True):
            case.id = number
        rows = []
        for case in new:
            rows.append(
                {
                    "id": case.id,
                    "kind": TicketKind.CASE,
                    "stage": Stage.NEW,
                    "priority": case.priority,
                    "queue_id": case.queue_id,
                    "customer_id": case.customer_id,
                    "assignee": case.assignee,
                    "rule": case.rows["rule"],
                    "title": case.rows["title"],
                    "tags": case.rows["tags"],
                    "opened_at": case.opened_at,
                    "first_response_due": case.first_response_due,
                    "resolution_due": case.resolution_due,
                    "sla_due": case.sla_due,
                    "sla_risk_at": case.sla_risk_at,
                    "escalation_level": 0,
                    "reopen_count": 0,
                    "paused_seconds": 0,
                    "version": case.version,
                    "updated_at": case.updated_at,
                }
            )
        insert_rows(self.session.connection(), Ticket.__table__, rows)

    def _allocate_ticket_ids(self, count: int) -> list[int]:
        """Ids for new tickets: the transaction holds the write lock (SQLite) or draws them
        from the sequence (PostgreSQL), so no other writer can take the same ones."""
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            return list(
                connection.exec_driver_sql(
                    "SELECT nextval(pg_get_serial_sequence('tickets', 'id')) "
                    f"FROM generate_series(1, {int(count)})"
                ).scalars()
            )
        start = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM tickets").scalar()
        return list(range(start + 1, start + 1 + count))

    def _update_changed_cases(self) -> None:
        """Cases that only gained alerts get their version moved; those whose priority rose
        get their clocks too. Two statements, because SQLite rewrites an index entry for every
        indexed column an UPDATE names, changed or not (measured 3.6x slower)."""
        changed, raised_cases = self.changed_cases.values(), self.raised_cases
        table = Ticket.__table__
        connection = self.session.connection()
        touched = [
            {"id": c.id, "version": c.version, "updated_at": c.updated_at}
            for c in changed
            if c.customer_id not in raised_cases
        ]
        update_rows(connection, table, touched)
        raised = [
            {
                "id": c.id,
                "priority": c.priority,
                "first_response_due": c.first_response_due,
                "resolution_due": c.resolution_due,
                "sla_due": c.sla_due,
                "sla_risk_at": c.sla_risk_at,
                "version": c.version,
                "updated_at": c.updated_at,
            }
            for c in changed
            if c.customer_id in raised_cases
        ]
        update_rows(connection, table, raised)

    def _write_quarantine(self) -> None:
        """Store the batch's refused records, and resolve those quarantined by an earlier run
        of the same source whose lines were accepted or refused again now."""
        session = self.session
        unresolved = select(QuarantinedRecord.id).where(
            QuarantinedRecord.source == self.ing.source,
            col(QuarantinedRecord.resolved).is_(False),
        )
        if not self.quarantine and session.exec(unresolved.limit(1)).first() is None:
            return  # the everyday case: nothing to store, nothing of this source to resolve
        lines = sorted({q["line"] for q in self.quarantine} | set(self.accepted_lines))
        already: dict[int, list[tuple[str, int]]] = {}
        for line, raw, number in session.exec(
            select(QuarantinedRecord.line, QuarantinedRecord.raw, QuarantinedRecord.id).where(
                QuarantinedRecord.source == self.ing.source,
                self._one_of(QuarantinedRecord.line, lines),
                col(QuarantinedRecord.resolved).is_(False),
            )
        ):
            already.setdefault(line, []).append((raw, number))
        fresh = [
            q
            for q in self.quarantine
            if q["raw"] not in {raw for raw, _ in already.get(q["line"], [])}
        ]
        if fresh:
            session.execute(insert(QuarantinedRecord.__table__), fresh)
        fixed = [number for line in self.accepted_lines for _, number in already.get(line, [])]
        if fixed:
            session.execute(
                update(QuarantinedRecord)
                .where(self._one_of(QuarantinedRecord.id, fixed))
                .values(resolved=True, retried_at=self.received_at)
            )


INGEST_LOCK = "cxdesk ingest"  # what ingest batches serialise on (see `serialise`)
MEMORY_LIMIT = 50_000  # customers remembered between batches: ~60 MB at most

_NO_ORIGIN: Origin = ("jsonl", None)  # an event handed over, not read from a source

_CASE_COLUMNS = (
    Ticket.id,
    Ticket.customer_id,
    Ticket.queue_id,
    Ticket.stage,
    Ticket.priority,
    Ticket.opened_at,
    Ticket.reopened_at,
    Ticket.first_response_at,
    Ticket.first_response_due,
    Ticket.resolution_due,
    Ticket.sla_due,
    Ticket.sla_risk_at,
    Ticket.resolved_at,
    Ticket.paused_seconds,
    Ticket.version,
)


def ticket_title(event: Any) -> str:
    """A one-line summary: the comment's first line, else what kind of signal it was."""
    comment = (event.comment or "").strip()
    if comment:
        return comment.splitlines()[0][:120]
    scores = [
        f"{name.upper()} {value}"
        for name in ("nps", "csat", "ces")
        if (value := getattr(event, name)) is not None
    ]
    return f"{event.kind} " + ", ".join(scores) if scores else event.kind
