"""Ticket references as people see them: CX-000123."""

from __future__ import annotations

import re

from cxdesk.errors import NotFound
from cxdesk.i18n import say

_REF = re.compile(r"^\s*(?:CX-?)?0*(\d{1,12})\s*$", re.IGNORECASE | re.ASCII)
SHOWN = 40  # of a reference that is none, the characters an error quotes
# The largest ticket number: ids are 32-bit integers on PostgreSQL, where a larger one in a
# query is an error rather than no row.
MAX_TICKET_ID = 2**31 - 1


def ticket_ref(ticket_id: int) -> str:
    return f"CX-{ticket_id:06d}"


def parse_ref(text: str) -> int:
    """`CX-000123`, `cx-123` or `123` → 123."""
    match = _REF.match(text)
    if not match or int(match.group(1)) == 0:
        shown = text if len(text) <= SHOWN else text[:SHOWN] + "…"
        raise NotFound(
            say("not a ticket id: {text} (expected something like CX-000123)", text=repr(shown))
        )
    number = int(match.group(1))
    if number > MAX_TICKET_ID:
        raise NotFound(say("no ticket {ref}", ref=ticket_ref(number)))
    return number
