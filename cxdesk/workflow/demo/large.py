"""`cxdesk demo --size large`: a million tickets for benchmarks, written in bulk.

Replaying a million tickets command by command would take hours, so the rows are
generated directly and written with the driver's executemany. What decides their content
still comes from the workflow: the configured alert rules pick each ticket's rule,
priority and queue, and the SLA planner computes every due time on the queues' calendars.
Each ticket gets one audit row (`demo`), chained and keyed as any, recording its state and
its timeline entries' digests, so that `audit verify --deep` covers these tickets too.

The rows themselves, one tuple per row in the order of their table's columns, are made in
`large_rows`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.db.search_index import Indexed, index_tickets
from cxdesk.errors import CxdeskError
from cxdesk.models import Queue, Stage, TicketKind
from cxdesk.workflow.audit.chain import ticket_state, timeline_row_digest, transaction_chain
from cxdesk.workflow.basics.progress import Progress
from cxdesk.workflow.clocks.sla import SlaPlanner
from cxdesk.workflow.demo.feedback import demo_customer
from cxdesk.workflow.demo.large_rows import (
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    TICKET_COLUMNS,
    TIMELINE_COLUMNS,
    Complaint,
    alert_entry,
    claim_entry,
    customer_row,
    event_row,
    ticket_row,
    timeline_row,
)
from cxdesk.workflow.demo.small import DemoBuilder
from cxdesk.workflow.demo.world import (
    BAD_COMMENTS,
    CHANNELS,
    DAYS,
    DRIVERS,
    ROOT_CAUSES,
    TOUCHPOINTS,
)
from cxdesk.workflow.intake.rules import RuleSet, event_facts
from cxdesk.workflow.loop.rollups import rebuild

LARGE_TICKETS = 1_000_000
LARGE_CUSTOMERS = 200_000
CHUNK = 25_000
OPEN_WEIGHTS = {  # stage mix of tickets opened in the last two weeks
    Stage.NEW: 5,
    Stage.COLLECT: 10,
    Stage.ANALYZE: 6,
    Stage.FIX: 8,
    Stage.PENDING: 4,
    Stage.VERIFY: 12,
    Stage.CLOSED: 55,
}
SCENARIOS = [  # kind, nps, csat: what the customer said (the rules decide what it means)
    ("survey", 3, None),
    ("survey", 5, 2),
    ("survey", 6, None),
    ("survey", 0, 1),
    ("review", None, 1),
    ("review", None, 2),
    ("complaint", None, None),
    ("survey", 8, 2),
]


class LargeDemo:
    days = DAYS  # tickets are opened over this many days before `now`
    tables = {  # rows gathered under a key -> the table and columns they are written to
        "tickets": ("tickets", TICKET_COLUMNS),
        "events": ("feedback_events", EVENT_COLUMNS),
        "timeline": ("timeline_entries", TIMELINE_COLUMNS),
    }

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        seed: int,
        now: datetime,
        progress: Progress | None = None,
    ) -> None:
        if not db.is_sqlite:
            raise CxdeskError("--size large writes an SQLite file; give --db a file path")
        self.db = db
        self.progress = progress  # told the tickets written, chunk by chunk
        self.settings = settings
        self.rng = random.Random(seed)
        self.now = now
        self.start = (now - timedelta(days=DAYS)).replace(second=0, microsecond=0)
        self.builder = DemoBuilder(db, settings, seed=seed, now=now)
        self.planner = SlaPlanner(settings)
        self.rules = RuleSet(settings.rules)
        self.alert_for = cache(self._alert_for)
        self.due_times = cache(self._due_times)
        self.names: dict[str, str | None] = {}  # the customers' names, for the word index

    def build(self, tickets: int, customers: int) -> str:
        self.builder.create_organisation()
        with self.db.session() as session:
            self.queues = {q.id: q for q in session.exec(select(Queue))}
        people = [demo_customer(self.builder.rng, i) for i in range(customers)]
        customer_rows = [customer_row(c, self.start) for c in people]
        self.names = {row[0]: row[1] for row in customer_rows}  # id, name: CUSTOMER_COLUMNS
        self._write("customers", CUSTOMER_COLUMNS, customer_rows)
        rows: dict[str, list[Any]] = {key: [] for key in (*self.tables, "audit")}
        minutes = sorted(self.rng.randrange(self.days * 1440) for _ in range(tickets))
        for number, minute in enumerate(minutes, start=1):
            self._ticket(
                number,
                self.start + timedelta(minutes=minute),
                people[self.rng.randrange(customers)],
                rows,
            )
            if len(rows["tickets"]) >= CHUNK or number == tickets:
                self._flush(rows)
                if self.progress is not None:
                    self.progress("demo", number, tickets)
        with self.db.write() as session:  # the events went in bulk, past ingest's counting
            rebuild(session.connection())
        return f"{tickets:,} tickets, {tickets:,} feedback events, {customers:,} customers"

    # -- one ticket ------------------------------------------------------------------------

    def _ticket(
        self, number: int, opened: datetime, customer: Any, rows: dict[str, list[Any]]
    ) -> None:
        rng = self.rng
        complaint = self._complaint(customer)
        age = self.now - opened
        stage = (
            Stage.CLOSED
            if age > timedelta(days=14)
            else rng.choices(list(OPEN_WEIGHTS), weights=list(OPEN_WEIGHTS.values()))[0]
        )
        ticket = self._new_ticket(number, opened, customer, complaint, stage)
        worked = stage not in (Stage.NEW, Stage.COLLECT) or rng.random() < 0.5
        if stage is not Stage.NEW and worked:
            ticket.first_response_at = min(
                opened + timedelta(minutes=rng.randrange(5, 600)), self.now
            )
        if stage in (Stage.FIX, Stage.VERIFY, Stage.CLOSED):
            ticket.root_cause, ticket.driver = ROOT_CAUSES[complaint.driver], complaint.driver
        if stage in (Stage.VERIFY, Stage.CLOSED):
            ticket.resolved_at = min(opened + timedelta(hours=rng.uniform(2, 60)), self.now)
            ticket.resolution_code, ticket.action_taken = "fix", "handled with the customer"
        if stage is Stage.CLOSED:
            ticket.closed_at = min(
                ticket.resolved_at + timedelta(days=rng.uniform(0.5, 7)), self.now
            )
            ticket.verify_outcome = "verified" if rng.random() < 0.8 else "unverified"
        if stage is Stage.PENDING:
            ticket.paused_at, ticket.paused_from = opened + timedelta(hours=3), "collect"
        if stage not in (Stage.CLOSED, Stage.VERIFY, Stage.PENDING):
            self.planner.refresh_running_clock(ticket, self.queues[complaint.queue_id])
        ticket.escalation_level = 1 if stage is not Stage.CLOSED and rng.random() < 0.05 else 0
        event_id = f"large-{number:07d}"
        rows["tickets"].append(ticket_row(ticket))
        rows["events"].append(
            event_row(
                event_id,
                complaint,
                at=opened,
                customer_id=customer.id,
                channel=rng.choice(CHANNELS),
                ticket_id=number,
            )
        )
        entries = [alert_entry(ticket, event_id)]
        if ticket.assignee is not None:
            entries.append(claim_entry(number, opened + timedelta(minutes=3), ticket.assignee))
        rows["timeline"].extend(entries)
        state = ticket_state(
            stage, ticket.assignee, ticket.priority, ticket.escalation_level, ticket.queue_id
        )
        rows["audit"].append((ticket, state, entries))

    def _complaint(self, customer: Any) -> Complaint:
        """A complaint drawn at random, and the rule, priority and queue it alerts with."""
        rng = self.rng
        kind, nps, csat = rng.choice(SCENARIOS)
        comment_index = rng.randrange(len(BAD_COMMENTS))
        rule, priority, queue_id, tags = self.alert_for(
            kind, nps, csat, comment_index, customer.tier
        )
        touchpoint = rng.choice(TOUCHPOINTS)
        return Complaint(
            kind=kind,
            nps=nps,
            csat=csat,
            comment=BAD_COMMENTS[comment_index],
            touchpoint=touchpoint,
            driver=rng.choice(DRIVERS[touchpoint]),
            rule=rule,
            priority=priority,
            queue_id=queue_id,
            tags=tags,
        )

    def _new_ticket(
        self, number: int, opened: datetime, customer: Any, complaint: Complaint, stage: Stage
    ) -> SimpleNamespace:
        """The ticket `complaint` opened, in `stage`: assigned unless new, its SLA due times
        set, nothing else done yet. The SLA planner reads and writes it as a ticket."""
        team = self.settings.queues[complaint.queue_id].team
        assignee = None if stage is Stage.NEW else self.rng.choice(self.builder.team_agents[team])
        first_response_due, resolution_due = self.due_times(
            complaint.queue_id, complaint.priority, opened
        )
        return SimpleNamespace(
            id=number,
            stage=stage,
            priority=complaint.priority,
            queue_id=complaint.queue_id,
            assignee=assignee,
            customer_id=customer.id,
            rule=complaint.rule,
            title=complaint.comment[:120],
            tags=complaint.tags,
            touchpoint=complaint.touchpoint,
            opened_at=opened,
            first_response_at=None,
            resolved_at=None,
            closed_at=None,
            first_response_due=first_response_due,
            resolution_due=resolution_due,
            sla_due=None,
            sla_risk_at=None,
            paused_at=None,
            paused_from=None,
            paused_seconds=0,
            escalation_level=0,
            resolution_code=None,
            root_cause=None,
            driver=None,
            action_taken=None,
            verify_outcome=None,
        )

    def _alert_for(
        self, kind: str, nps: int | None, csat: int | None, comment_index: int, tier: str | None
    ) -> tuple[str, str, str, list[str]]:
        event = SimpleNamespace(
            kind=kind,
            nps=nps,
            csat=csat,
            comment=BAD_COMMENTS[comment_index],
            drivers=[],
            event_id=None,
            channel=None,
            touchpoint=None,
            journey=None,
            ces=None,
        )
        alert = self.rules.evaluate(event_facts(event, SimpleNamespace(id="", name="", tier=tier)))
        if alert is None:
            raise CxdeskError("the configured alert rules fire on none of the demo's complaints")
        rule = alert.decisive
        return rule.name, alert.priority, rule.queue, alert.tags

    def _due_times(
        self, queue_id: str, priority: str, opened: datetime
    ) -> tuple[datetime, datetime]:
        return self.planner.due_times(self.queues[queue_id], priority, opened)

    # -- writing ---------------------------------------------------------------------------

    def _flush(self, rows: dict[str, list[Any]]) -> None:
        """Write the rows gathered so far, table by table, then the tickets' audit rows, and
        forget them."""
        rows["timeline"][:] = map(timeline_row, rows["timeline"])
        for key, (table, columns) in self.tables.items():
            self._write(table, columns, rows[key])
            rows[key].clear()
        with self.db.write() as session:
            index_tickets(
                session.connection(),
                [
                    Indexed(
                        t.id,
                        t.title,
                        t.customer_id,
                        self.names[t.customer_id],
                        t.priority,
                        t.queue_id,
                        TicketKind.CASE,
                    )
                    for t, _, _ in rows["audit"]
                ],
            )
            chain = transaction_chain(session)
            for ticket, state, entries in rows["audit"]:
                detail = {
                    "queue": ticket.queue_id,
                    "rule": ticket.rule,
                    "state": state,
                    "timeline": [timeline_row_digest(chain.key, entry) for entry in entries],
                }
                chain.add(
                    at=ticket.opened_at,
                    actor="cxdesk",
                    action="demo",
                    ticket_id=ticket.id,
                    detail=detail,
                )
            chain.write()
        rows["audit"].clear()

    def _write(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """One transaction of executemany on the raw driver connection."""
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        connection = self.db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("BEGIN")
            cursor.executemany(sql, rows)
            cursor.execute("COMMIT")
        finally:
            connection.close()


def build_large(
    db: Database,
    settings: Settings,
    *,
    seed: int,
    now: datetime,
    tickets: int = LARGE_TICKETS,
    customers: int = LARGE_CUSTOMERS,
    progress: Progress | None = None,
) -> str:
    """Build the large demo, telling `progress` the tickets written."""
    return LargeDemo(db, settings, seed=seed, now=now, progress=progress).build(tickets, customers)
