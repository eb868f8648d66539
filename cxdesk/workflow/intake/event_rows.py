"""A feedback event's row, bound for the database's driver, by the reading process if it can.

Binding a row (instants as UTC text, drivers as JSON text, values in the statement's order)
is a good part of ingest's writer's work on an event, and needs nothing but the event and the
dialect. So the
reading process binds each event's row a batch ahead, where the driver takes rows as
sequences (SQLite); the writer fills in the receipt time and the ticket. On PostgreSQL, whose
driver takes named rows and adapts JSON itself, the writer binds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect

from cxdesk.db import insert_plan
from cxdesk.models import FeedbackEvent
from cxdesk.models.base import remember_sqlite_text, table_of
from cxdesk.workflow.basics.text import storable
from cxdesk.workflow.intake.events import ValidEvent

COLUMNS = tuple(table_of(FeedbackEvent).columns.keys())


def _as_is(value: Any) -> Any:
    return value


class EventRows:
    def __init__(self, dialect: Dialect) -> None:
        self.plan = insert_plan(table_of(FeedbackEvent), dialect, COLUMNS)
        names = self.plan.names
        self.ticket = names.index("ticket_id")  # where the writer puts the ticket's id
        self._occurred = names.index("occurred_at")
        self._received = names.index("received_at")
        self._bind_time = dict(self.plan.converted).get(self._received, _as_is)

    @property
    def bound_ahead(self) -> bool:
        return self.plan.positional

    def bind(self, event: ValidEvent, raw: str) -> list[Any]:
        """The event's row, bound, with no receipt time and no ticket yet."""
        values = {
            "event_id": event.event_id,
            "kind": event.kind,
            "occurred_at": event.occurred_at,
            "received_at": None,
            "customer_id": event.customer_id,
            "channel": event.channel,
            "touchpoint": event.touchpoint,
            "journey": event.journey,
            "nps": event.nps,
            "csat": event.csat,
            "ces": event.ces,
            "comment": event.comment,
            "drivers": list(event.drivers),
            "ticket_id": None,
            "raw": storable(raw),
        }
        return self.plan.bind([values[name] for name in self.plan.names])

    def remember_time(self, event: ValidEvent, row: list[Any]) -> None:
        """The event's time as its row holds it, bound ahead, is what the writer's other rows
        for the event (its ticket, timeline entry, audit row) bind it as, so the writer does
        not format it again for each."""
        if self.bound_ahead:
            remember_sqlite_text(event.occurred_at, row[self._occurred])

    def bind_times(self, instants: Iterable[datetime | None]) -> tuple[str | None, ...] | None:
        """Instants as the driver takes them, where rows are bound ahead (else None): the
        reading process binds a case's clocks this way, for `remember_times`."""
        if not self.bound_ahead:
            return None
        bind = self._bind_time
        return tuple(None if at is None else bind(at) for at in instants)

    def remember_times(
        self, instants: Iterable[datetime | None], texts: Iterable[str | None] | None
    ) -> None:
        """Instants bound ahead by `bind_times`, bound without formatting them here."""
        if texts is not None:
            for at, text in zip(instants, texts, strict=True):
                if at is not None and text is not None:  # bound as None where it is None
                    remember_sqlite_text(at, text)

    def write(self, connection: Connection, rows: list[list[Any]], received_at: datetime) -> None:
        """Insert rows, all received at `received_at`. A row's ticket may be its number, or
        what stood for the ticket until the batch's new ones were written: its `id` now."""
        if not rows:
            return
        received, ticket = self._bind_time(received_at), self.ticket
        for row in rows:
            row[self._received] = received
            if row[ticket] is not None and row[ticket].__class__ is not int:
                row[ticket] = row[ticket].id
        self.plan.execute(connection, rows)
