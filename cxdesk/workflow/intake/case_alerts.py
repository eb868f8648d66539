"""What a batch's alerts do to cases: open one for a customer with none open, or join the
open one, raising its priority and clocks if the alert is more urgent. The rows are those
the service's commands would write (`loop.opening`), gathered to be written at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session

from cxdesk.db import insert_rows
from cxdesk.models import Queue, Stage, TicketKind, TimelineEntry
from cxdesk.models.base import table_of
from cxdesk.workflow.audit.chain import timeline_row_digest, transaction_chain
from cxdesk.workflow.clocks.sla import SlaPlanner, unplanned
from cxdesk.workflow.intake.case_rows import insert_new_cases, update_changed_cases
from cxdesk.workflow.intake.cases import Case
from cxdesk.workflow.intake.event_fields import ticket_title
from cxdesk.workflow.intake.event_rows import EventRows
from cxdesk.workflow.intake.events import ValidEvent
from cxdesk.workflow.intake.feed import ClocksAhead
from cxdesk.workflow.intake.rules import Alert
from cxdesk.workflow.loop.assignment import Assigned, Assigner, language_of
from cxdesk.workflow.loop.opening import alert_entry, is_more_urgent, opening_record
from cxdesk.workflow.loop.service import SYSTEM_ACTOR
from cxdesk.workflow.loop.ticket_events import OPENED, Outbox, TicketFacts, write_rows
from cxdesk.workflow.loop.unit import Entry

_timeline_table = table_of(TimelineEntry)


class CaseAlerts:
    """One batch's cases and what its alerts did to them, until the batch is written."""

    def __init__(
        self,
        session: Session,
        queues: dict[str, Queue],
        planner: SlaPlanner,
        event_rows: EventRows,
        outbox: Outbox,
        assigned: Assigned,
    ) -> None:
        self.queues = queues
        self.planner = planner
        self.event_rows = event_rows
        self.outbox = outbox
        self.assigner = Assigner(session, assigned)
        self.cases: dict[str, Case] = {}  # by customer: their open case
        # What the batch writes, by customer: new cases, cases that gained an alert, and
        # those of them whose priority rose (their clocks with it).
        self.new_cases: dict[str, Case] = {}
        self.changed_cases: dict[str, Case] = {}
        self.raised_cases: set[str] = set()
        self.timeline: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []

    def open_case(self, event: ValidEvent, alert: Alert, ahead: ClocksAhead | None) -> Case:
        """A new case for the alert, with the clocks planned ahead if they were."""
        rule = alert.decisive
        at = event.occurred_at
        queue = self.queues[rule.queue]
        if ahead is None:
            clocks = self.planner.opening_clocks(queue, alert.priority, at)
        else:
            planned_clocks, texts = ahead
            clocks = unplanned(planned_clocks)
            self.event_rows.remember_times(clocks, texts)
        first_response_due, resolution_due, sla_due, sla_risk_at = clocks
        case = Case(
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
        entries = [entry.row(case, at, SYSTEM_ACTOR) for entry in record.entries]
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

    def attach(self, case: Case, alert: Alert, event: ValidEvent) -> None:
        """Put the alert on the customer's open case."""
        rule = alert.decisive
        raised_from = None
        detail: dict[str, Any] = {"rule": rule.name, "event": event.event_id}
        if is_more_urgent(alert.priority, case.priority):
            raised_from = case.priority
            detail.update(priority_from=case.priority, priority_to=alert.priority)
            self.assigner.reweigh(case.assignee, case.priority, alert.priority)
            case.priority = alert.priority
            self.planner.start_clocks(
                case, self.queues[case.queue_id], case.reopened_at or case.opened_at
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
        self, case: Case, event: ValidEvent, entry: tuple[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """Add an alert entry for `case`; returned for its audit row to record."""
        body, data = entry
        row = Entry("alert", body, event.event_id, data).row(case, event.occurred_at, SYSTEM_ACTOR)
        self.timeline.append(row)
        return row

    def write_new_cases(self, connection: Connection) -> None:
        """Insert the new cases: from now on they have the ids their rows name."""
        insert_new_cases(connection, list(self.new_cases.values()))
        for entry in self.timeline:
            entry["ticket_id"] = entry["ticket_id"].id

    def _opened_events(self) -> list[dict[str, Any]]:
        """The outbox rows of the new cases' openings, as `loop.opening` writes one."""
        rows = []
        for case in self.new_cases.values():
            assert case.id is not None, "written first"
            team_id = self.queues[case.queue_id].team_id
            facts = TicketFacts(
                case.id,
                TicketKind.CASE.value,
                case.queue_id,
                team_id,
                case.priority,
                Stage.NEW.value,
                case.customer_id,
                case.assignee,
                0,
            )
            opened = [(OPENED, {"rule": case.rows["rule"]})]
            rows += self.outbox.rows(opened, facts, case.opened_at, SYSTEM_ACTOR)
        return rows

    def write_changes(self, session: Session) -> None:
        """Write the timeline entries, the changed cases and the audit rows, once the events
        the entries name are stored."""
        connection = session.connection()
        insert_rows(connection, _timeline_table, self.timeline)
        update_changed_cases(connection, self.changed_cases.values(), self.raised_cases)
        if self.outbox.endpoints:
            write_rows(connection, self._opened_events())
        if not self.audit:
            return
        chain = transaction_chain(session)
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
