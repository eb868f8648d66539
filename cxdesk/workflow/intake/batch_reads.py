"""The set-based reads of a batch: one query each for its known event ids, the tickets its
follow-ups name, its customers and their open cases, however many records it holds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlmodel import select

from cxdesk.db import KeyedQuery
from cxdesk.errors import NotFound
from cxdesk.models import Customer, FeedbackEvent, Stage, Ticket, TicketKind
from cxdesk.models.base import table_of
from cxdesk.workflow.basics.refs import parse_ref, ticket_ref
from cxdesk.workflow.basics.statements import Unindexed, select_columns
from cxdesk.workflow.intake.cases import Case
from cxdesk.workflow.intake.event_fields import CUSTOMER_FIELDS

_tickets = table_of(Ticket).c
_CASE_COLUMNS = (
    _tickets.id,
    _tickets.customer_id,
    _tickets.queue_id,
    _tickets.stage,
    _tickets.priority,
    _tickets.opened_at,
    _tickets.reopened_at,
    _tickets.first_response_at,
    _tickets.first_response_due,
    _tickets.resolution_due,
    _tickets.sla_due,
    _tickets.sla_risk_at,
    _tickets.resolved_at,
    _tickets.paused_seconds,
    _tickets.version,
    _tickets.assignee,  # whose load a raised priority weighs on
)
_CUSTOMER_COLUMNS = (Customer.id, Customer.name, Customer.phone, Customer.email, Customer.tier)
# The reads, each built once (see `KeyedQuery`).
_KNOWN_EVENTS = KeyedQuery(
    FeedbackEvent.event_id, lambda keys_in: select(FeedbackEvent.event_id).where(keys_in)
)
_TICKETS_NAMED = KeyedQuery(
    _tickets.id,
    lambda keys_in: select(_tickets.id, _tickets.queue_id, _tickets.customer_id).where(keys_in),
)
_CUSTOMERS = KeyedQuery(
    Customer.id, lambda keys_in: select_columns(*_CUSTOMER_COLUMNS).where(keys_in)
)
# Locked for the batch. Plain columns, not ORM objects: the session's identity map must not
# hold copies that the batch's bulk UPDATE would leave stale for the service's commands.
# Sought by customer: the stage is compared unindexed, or SQLite, seeing the closed stage
# bound, read every open case through the index of the tickets not closed (150-200 ms a
# batch on a million tickets, where the customers' index takes under a millisecond).
_OPEN_CASES = KeyedQuery(
    _tickets.customer_id,
    lambda keys_in: (
        select_columns(*_CASE_COLUMNS)
        .where(
            keys_in,
            _tickets.kind == TicketKind.CASE,
            Unindexed(_tickets.stage) != Stage.CLOSED,
        )
        .order_by(_tickets.id)
        .with_for_update()
    ),
)


def known_event_ids(connection: Connection, ids: list[str]) -> set[str]:
    """Those of `ids` already stored."""
    if not ids:
        return set()
    return {event_id for (event_id,) in _KNOWN_EVENTS.rows(connection, ids)}


def existing_tickets(connection: Connection, refs: list[str]) -> dict[int, tuple[str, str | None]]:
    """The tickets `refs` name that exist, by number, with their queues (where a follow-up
    answer on them is counted) and customers (whose answer alone it takes); a malformed ref
    names none."""
    numbers = set()
    for ref in refs:
        try:
            numbers.add(parse_ref(ref))
        except NotFound:
            continue
    if not numbers:
        return {}
    found = _TICKETS_NAMED.rows(connection, numbers)
    return {number: (queue, customer) for number, queue, customer in found}


def followup_target(
    ref: str | None, customer_id: str, tickets: Mapping[int, tuple[str, str | None]]
) -> int | str:
    """The number of the ticket a follow-up answer goes to, among `tickets` (as
    `existing_tickets` reads them), or why it is quarantined: a ref that names no ticket, or
    a ticket of another customer, whose case another's "answer" would close or reopen (told
    alike: a feed learns nothing of other customers' tickets from the answer). One rule for
    ingest and its dry run (`rules test`), so the two tell the same outcome."""
    try:
        number = parse_ref(ref or "")
    except NotFound as exc:
        return f"ticket_id: {exc}"
    if number not in tickets or tickets[number][1] != customer_id:
        return f"ticket_id: customer {customer_id} has no ticket {ticket_ref(number)}"
    return number


def stored_customers(connection: Connection, ids: list[str]) -> Iterator[dict[str, Any]]:
    """The customers of `ids` that are stored, each as a row of `CUSTOMER_FIELDS` and its id."""
    for values in _CUSTOMERS.rows(connection, ids):
        yield dict(zip(("id", *CUSTOMER_FIELDS), values, strict=True))


def open_cases(connection: Connection, customer_ids: list[str]) -> Iterator[Case]:
    """The open cases of these customers, locked for the batch."""
    for values in _OPEN_CASES.rows(connection, customer_ids):
        yield Case(**{c.key: v for c, v in zip(_CASE_COLUMNS, values, strict=True)})
