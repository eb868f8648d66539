"""One batch of ingest in one transaction: its set-based reads, then each record accepted,
refused or found a duplicate, then every row written with one statement per table.

The loop over records is the hot path of ingest: what it calls per event is bound on the
batch once, not looked up through the objects that own it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Protocol

from sqlmodel import Session

from cxdesk.db import insert_rows, serialise, update_rows
from cxdesk.db.search_index import Indexed, index_tickets, reindex_customers
from cxdesk.models import Customer, Queue, Stage, TicketKind
from cxdesk.models.base import table_of
from cxdesk.workflow.basics.text import storable
from cxdesk.workflow.clocks.sla import SlaPlanner
from cxdesk.workflow.intake.batch_reads import (
    existing_tickets,
    followup_target,
    known_event_ids,
    open_cases,
    stored_customers,
)
from cxdesk.workflow.intake.case_alerts import CaseAlerts
from cxdesk.workflow.intake.cases import Case, Memory
from cxdesk.workflow.intake.event_fields import (
    CUSTOMER_FIELDS,
    given_customer_fields,
    stored_customer_fields,
)
from cxdesk.workflow.intake.event_rows import EventRows
from cxdesk.workflow.intake.events import Fired, ValidEvent
from cxdesk.workflow.intake.feed import Checked, ClocksAhead, Origin
from cxdesk.workflow.intake.outcomes import DUPLICATE, STORED, Outcome, Pending
from cxdesk.workflow.intake.quarantine_rows import write_quarantine
from cxdesk.workflow.intake.rules import Alert, RuleSet, event_facts
from cxdesk.workflow.loop.commands import AttachAlert, LinkCases, RecordFollowupAnswer
from cxdesk.workflow.loop.problem_scope import CaseFacts, OpenScope, matches, open_scopes
from cxdesk.workflow.loop.rollups import Tally, add_tally, tally
from cxdesk.workflow.loop.service import TicketService

INGEST_LOCK = "cxdesk ingest"  # what ingest batches serialise on (see `serialise`)

_customer_table = table_of(Customer)


class Run(Protocol):
    """What a batch takes from the run it belongs to (the `Ingestor`)."""

    source: str
    rules: RuleSet
    planner: SlaPlanner
    queues: dict[str, Queue]
    event_rows: EventRows
    service: TicketService

    def note_failed_rules(
        self, fired: Fired, line: int, event: ValidEvent, customer: dict[str, Any]
    ) -> None: ...


class Batch:
    """One transaction's worth of records."""

    def __init__(
        self, ingestor: Run, session: Session, received_at: datetime, memory: Memory
    ) -> None:
        self.ing = ingestor
        self.session = session
        self.received_at = received_at
        self.memory = memory
        self.customers: dict[str, dict[str, Any]] = {}
        # Existing tickets that the batch's follow-ups name, with their queues and customers.
        self.tickets: dict[int, tuple[str, str | None]] = {}
        # Read from the database, not remembered: customers, and open cases (None: none open).
        self.read_customers: dict[str, dict[str, Any]] = {}
        self.read_cases: dict[str, Case | None] = {}
        self.events: list[list[Any]] = []  # rows bound for the driver, as EventRows makes them
        self.accepted: list[ValidEvent] = []  # the events of those rows, in their order
        self.quarantine: list[dict[str, Any]] = []
        self.accepted_lines: list[int] = []
        # What the batch writes of its customers, by id: new ones and changed ones.
        self.new_customers: dict[str, dict[str, Any]] = {}
        self.changed_customers: dict[str, dict[str, Any]] = {}
        self.renamed: set[str] = set()  # stored customers whose names changed
        self.service_work: list[Callable[[], None]] = []
        self.scopes: list[OpenScope] = []
        self.links: dict[int, list[Case]] = {}  # by open problem: the new cases of its scope
        self.alerts = CaseAlerts(
            session,
            ingestor.queues,
            ingestor.planner,
            ingestor.event_rows,
            ingestor.service.outbox,
            memory.assigned,
        )
        # Bound here once: `_accept` reaches them per event as if the batch owned them.
        self.cases = self.alerts.cases
        self._open_case = self.alerts.open_case
        self._attach = self.alerts.attach

    def run(self, items: list[Checked]) -> list[Pending]:
        # One batch at a time across runs, as SQLite's write lock has it: a batch decides
        # from what it reads which customers and cases are new, and another run's batch
        # in between would insert the same customer or open a second case.
        connection = self.session.connection()
        serialise(connection, INGEST_LOCK)
        valid = [item[2] for item in items if not isinstance(item[2], str)]  # item: Checked
        known = known_event_ids(connection, [ev.event_id for ev in valid])
        self.tickets = existing_tickets(
            connection, [ev.ticket_id for ev in valid if ev.kind == "followup" and ev.ticket_id]
        )
        self.customers = self._customers([ev for ev in valid if ev.event_id not in known])
        self._load_open_cases([ev.customer_id for ev in valid])
        self.scopes = open_scopes(self.session)  # the open problems, matched in memory
        pending: list[Pending] = []
        for line, raw, event, origin, fired, row, clocks in items:
            if isinstance(event, str):
                pending.append(self._quarantine(line, raw, origin, event))
            elif event.event_id in known:
                pending.append(DUPLICATE)
                self._resolved(line)
            else:
                outcome = self._accept(line, raw, origin, event, fired, row, clocks)
                if outcome.outcome is not Outcome.QUARANTINED:
                    known.add(event.event_id)
                pending.append(outcome)
        self._write()
        return pending

    def remember(self) -> None:
        """Leave in the memory what the next batch may trust: all it read or made, unless
        the service's commands wrote too, whose changes the memory does not follow."""
        if self.service_work:
            self.memory.forget()
            return
        self.memory.remember(
            customers=(self.read_customers, self.new_customers),
            cases=(self.read_cases, self.alerts.new_cases),
        )

    # -- lookups: what the memory holds, else one read --------------------------------------

    def _customers(self, events: list[ValidEvent]) -> dict[str, dict[str, Any]]:
        """The batch's customers as rows, known ones loaded, then updated event by event."""
        ids = {ev.customer_id for ev in events}
        remembered = self.memory.customers
        rows = {i: remembered[i] for i in ids if i in remembered}
        unknown = [i for i in ids if i not in rows]
        if unknown:
            read = self.read_customers
            for row in stored_customers(self.session.connection(), unknown):
                rows[row["id"]] = read[row["id"]] = row
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
            for case in open_cases(self.session.connection(), unknown):
                self.cases[case.customer_id] = self.read_cases[case.customer_id] = case

    # -- one record ------------------------------------------------------------------------

    def _quarantine(self, line: int, raw: str, origin: Origin, reason: str) -> Pending:
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
        return Pending(Outcome.QUARANTINED, reason=reason)

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
    ) -> Pending:
        """An event not seen before, with what was worked out for it ahead."""
        if event.kind == "followup":
            target = followup_target(event.ticket_id, event.customer_id, self.tickets)
            if isinstance(target, str):
                return self._quarantine(line, raw, origin, target)
            number = target
        self._resolved(line)
        customer = self._upsert_customer(event)
        if row is None:
            row = self.ing.event_rows.bind(event, raw)
        self.events.append(row)
        self.accepted.append(event)
        ticket = self.ing.event_rows.ticket  # where the row's ticket goes
        if event.kind == "followup":
            row[ticket] = number
            self.service_work.append(lambda: self._followup(number, event))
            self._answered(event, number)
            return Pending(Outcome.UPDATED, number)
        rules = self.ing.rules
        if fired is None:  # not judged ahead: the stored customer has a say
            fired = rules.fired(event_facts(event, SimpleNamespace(**customer)))
        if not fired:  # most events: no rule fired
            return STORED
        if min(fired) < 0:
            self.ing.note_failed_rules(fired, line, event, customer)
        alert = rules.alert_of(fired)
        if alert is None:  # the rules that did not hold failed
            return STORED
        self.ing.event_rows.remember_time(event, row)
        case = self.cases.get(event.customer_id)
        if case is None:
            case = row[ticket] = self._open_case(event, alert, clocks)
            if self.scopes:
                self._match_scopes(case, event, customer)
            return Pending(Outcome.CREATED, case, alert)
        row[ticket] = case  # its id once the batch is written
        if case.via_service or case.stage == Stage.VERIFY:
            case.via_service = True
            self.service_work.append(lambda: self._attach_via_service(case, alert, event))
            if case.stage == Stage.VERIFY:
                case.stage = Stage.ANALYZE  # as the alert will leave it
        else:
            self._attach(case, alert, event)
        return Pending(Outcome.UPDATED, case, alert)

    def _answered(self, answer: ValidEvent, ticket_id: int) -> None:
        """What a follow-up answer to the customer's open case will do to it, for the batch's
        later events: they go through the service after it, in order; a good answer in
        verify closes it (a later alert opens a new case), a bad one reopens it."""
        case = self.cases.get(answer.customer_id)
        if case is None or case.id != ticket_id:
            return
        case.via_service = True
        if case.stage == Stage.VERIFY:
            if self.ing.service.settings.verify.verified_by(answer.nps, answer.csat):
                del self.cases[answer.customer_id]
            else:
                case.stage = Stage.ANALYZE

    def _upsert_customer(self, event: ValidEvent) -> dict[str, Any]:
        key = event.customer_id
        row = self.customers.get(key)
        given = given_customer_fields(event)
        if row is None:  # new: as the event gives it
            name, phone, email, tier = given  # in CUSTOMER_FIELDS' order
            row = {"id": key, "name": name, "phone": phone, "email": email, "tier": tier}
            self.customers[key] = self.new_customers[key] = row
            return row
        if given == stored_customer_fields(row):
            return row  # most events: the customer as stored
        changed = False
        for name, value in zip(CUSTOMER_FIELDS, given, strict=True):
            if value is not None and value != row[name]:
                row[name] = value
                changed = True
                if name == "name":
                    self.renamed.add(key)
        if changed and key not in self.new_customers:
            self.changed_customers[key] = row
        return row

    def _match_scopes(self, case: Case, event: ValidEvent, customer: dict[str, Any]) -> None:
        """Note the open problems whose scope the new case is of, to link it once written."""
        facts = CaseFacts(
            team_id=self.ing.queues[case.queue_id].team_id,
            queue_id=case.queue_id,
            opened_at=case.opened_at,
            touchpoints=frozenset((event.touchpoint,) if event.touchpoint else ()),
            drivers=frozenset(event.drivers),
            tier=customer["tier"],
            complaint=event.kind == "complaint",
        )
        for scope in self.scopes:
            if matches(scope, facts):
                self.links.setdefault(scope.problem_id, []).append(case)

    # -- work done by the service inside this transaction ----------------------------------

    def _index_cases(self) -> None:
        """Put the new cases in the word index, and index again the tickets of customers
        whose names changed (their new cases among them)."""
        connection = self.session.connection()
        customers = self.customers
        index_tickets(
            connection,
            [
                Indexed(
                    c.id,
                    c.rows["title"],
                    c.customer_id,
                    customers[c.customer_id]["name"],
                    c.priority,
                    c.queue_id,
                    TicketKind.CASE,
                )
                for c in self.alerts.new_cases.values()
                if c.id is not None
            ],
        )
        reindex_customers(connection, self.renamed - self.new_customers.keys())

    def _link(self, problem_id: int, cases: list[Case]) -> None:
        numbers = tuple(case.id for case in cases if case.id is not None)
        at = max(case.opened_at for case in cases)
        self.ing.service.handle(LinkCases(problem_id, case_ids=numbers, at=at), self.session)

    def _followup(self, ticket_id: int, answer: ValidEvent) -> None:
        answered = RecordFollowupAnswer(
            ticket_id, answer.event_id, nps=answer.nps, csat=answer.csat, at=answer.occurred_at
        )
        self.ing.service.handle(answered, self.session)

    def _attach_via_service(self, case: Case, alert: Alert, event: ValidEvent) -> None:
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

    def _counted(self) -> Tally:
        """The rollups' counts of the batch's new events, each in its ticket's queue: a new
        case's, an open case's, or the ticket a follow-up answers (before the rows' tickets
        become numbers)."""
        ticket, queues = self.ing.event_rows.ticket, self.tickets
        return tally(
            (
                event.occurred_at,
                event.kind,
                event.nps,
                event.csat,
                event.touchpoint,
                None
                if (on := row[ticket]) is None
                else queues[on][0]
                if on.__class__ is int
                else on.queue_id,
            )
            for event, row in zip(self.accepted, self.events, strict=True)
        )

    def _write(self) -> None:
        """Write the batch, in the order the rows refer to each other."""
        session, at = self.session, self.received_at
        new_customers = [
            {**c, "attributes": {}, "created_at": at, "updated_at": at}
            for c in self.new_customers.values()
        ]
        insert_rows(session.connection(), _customer_table, new_customers)
        changed_customers = [{**c, "updated_at": at} for c in self.changed_customers.values()]
        update_rows(session.connection(), _customer_table, changed_customers)
        self.alerts.write_new_cases(session.connection())
        add_tally(session.connection(), self._counted())
        self._index_cases()
        self.ing.event_rows.write(session.connection(), self.events, at)
        self.alerts.write_changes(session)
        for problem_id, cases in self.links.items():  # the cases have their numbers now
            self.service_work.append(functools.partial(self._link, problem_id, cases))
        for work in self.service_work:
            work()
        write_quarantine(session, self.ing.source, self.quarantine, self.accepted_lines, at)
