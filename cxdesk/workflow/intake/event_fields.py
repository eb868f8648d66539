"""What ingest takes from an event besides its row: the customer's fields, and the title of a
case the event opens. Pure functions of the event, apart from the batch's state."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from cxdesk.workflow.intake.events import ValidEvent

CUSTOMER_FIELDS = ("name", "phone", "email", "tier")
# A customer's fields as an event gives them (None where it leaves one out) and as stored.
given_customer_fields = itemgetter(
    *(ValidEvent._fields.index(f"customer_{name}") for name in CUSTOMER_FIELDS)
)
stored_customer_fields = itemgetter(*CUSTOMER_FIELDS)


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
