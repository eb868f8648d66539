"""`cxdesk rules test`: what the rules would do with a file, without changing anything."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TextIO

from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Customer, FeedbackEvent, Stage, Ticket, TicketKind
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.statements import Unindexed
from cxdesk.workflow.intake.batch_reads import existing_tickets, followup_target
from cxdesk.workflow.intake.events import ValidEvent
from cxdesk.workflow.intake.readers import read_csv, read_jsonl
from cxdesk.workflow.intake.rules import Alert, RuleSet, event_facts
from cxdesk.workflow.intake.validation import Window, validate_record
from cxdesk.workflow.loop.opening import is_more_urgent

DUPLICATE = "duplicate: already ingested, so ingest would skip it"


@dataclass(frozen=True)
class DryRunRow:
    line: int
    event_id: str | None
    customer_id: str | None
    fired: str  # the rules that fired, decisive one first
    outcome: str


@dataclass
class _Case:
    label: str
    priority: str


def dry_run(
    stream: TextIO, fmt: str, settings: Settings, db: Database | None, now: datetime
) -> list[DryRunRow]:
    """What ingest would do with each record at `now` (the window of `occurred_at` too)."""
    rules = RuleSet(settings.rules)
    window = Window(settings.ingest, lambda: now)
    records = read_csv(stream) if fmt == "csv" else read_jsonl(stream)
    cases: dict[str, _Case] = {}
    tiers: dict[str, str | None] = {}
    rows = []
    sessions: AbstractContextManager[Session | None] = (
        db.session() if db is not None else nullcontext()
    )
    with sessions as open_session:
        for record in records:
            event = validate_record(record, settings.timezone, window)
            if isinstance(event, str):
                rows.append(DryRunRow(record.line, None, None, "", f"quarantine: {event}"))
                continue
            customer_id = event.customer_id
            stored = (
                open_session is not None
                and open_session.get(FeedbackEvent, event.event_id) is not None
            )
            if event.kind == "followup" and not stored:
                target = _followup_target(open_session, event)
                if isinstance(target, str):
                    rows.append(
                        DryRunRow(
                            record.line, event.event_id, customer_id, "", f"quarantine: {target}"
                        )
                    )
                    continue
            if customer_id not in tiers:
                tiers[customer_id], known = _lookup(open_session, customer_id)
                if known is not None:
                    cases[customer_id] = known
            tier = event.customer_tier or tiers[customer_id]
            if not stored:  # ingest would store what the event says of its customer
                tiers[customer_id] = tier
            if event.kind == "followup":
                said = DUPLICATE if stored else f"follow-up answer for {event.ticket_id}"
                rows.append(DryRunRow(record.line, event.event_id, customer_id, "", said))
                continue
            customer = SimpleNamespace(id=customer_id, name=event.customer_name, tier=tier)
            facts = event_facts(event, customer)
            fired_rules = rules.fired(facts)
            alert = rules.alert_of(fired_rules)
            failures = "".join(
                f"; rule {rule.name} failed ({rules.why_failed(rule, facts)}), not fired"
                for rule in rules.failed(fired_rules)
            )
            if stored:  # what the rules say of it, though ingest would skip it
                fired = "" if alert is None else _fired_names(alert)
                rows.append(
                    DryRunRow(record.line, event.event_id, customer_id, fired, DUPLICATE + failures)
                )
                continue
            if alert is None:
                rows.append(
                    DryRunRow(record.line, event.event_id, customer_id, "", "no alert" + failures)
                )
                continue
            decisive = alert.decisive
            fired = _fired_names(alert)
            case = cases.get(customer_id)
            if case is None:
                cases[customer_id] = _Case(f"the case opened at line {record.line}", alert.priority)
                outcome = f"open {alert.priority} case in {decisive.queue}"
            else:
                outcome = f"attach to {case.label}"
                if is_more_urgent(alert.priority, case.priority):
                    outcome += f", priority {case.priority} → {alert.priority}"
                    case.priority = alert.priority
            rows.append(
                DryRunRow(record.line, event.event_id, customer_id, fired, outcome + failures)
            )
    return rows


def _fired_names(alert: Alert) -> str:
    """The rules that fired, the decisive one first."""
    decisive = alert.decisive
    return ", ".join([decisive.name] + [r.name for r in alert.fired if r is not decisive])


def _followup_target(session: Session | None, event: ValidEvent) -> int | str:
    """Where ingest would send a follow-up answer, or why it would quarantine it, by the
    same rule; with no database yet, no ticket exists for it to answer."""
    refs = [event.ticket_id] if event.ticket_id else []
    tickets = existing_tickets(session.connection(), refs) if session is not None else {}
    return followup_target(event.ticket_id, event.customer_id, tickets)


def _lookup(session: Session | None, customer_id: str) -> tuple[str | None, _Case | None]:
    if session is None:
        return None, None
    customer = session.get(Customer, customer_id)
    ticket = session.exec(
        select(Ticket.id, Ticket.priority).where(
            Ticket.customer_id == customer_id,
            Ticket.kind == TicketKind.CASE,
            Unindexed(col(Ticket.stage)) != Stage.CLOSED,  # sought by customer (see batch_reads)
        )
    ).first()
    tier = customer.tier if customer else None
    if ticket is None:
        return tier, None
    ticket_id, priority = ticket
    assert ticket_id is not None  # a stored ticket has its number
    return tier, _Case(ticket_ref(ticket_id), priority)
