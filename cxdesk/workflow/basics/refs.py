"""Ticket references as people see them: CX-000123."""

from __future__ import annotations

import re

from cxdesk.errors import NotFound
from cxdesk.i18n import say

_REF = re.compile(r"^\s*(?:CX-?)?0*(\d{1,12})\s*$", re.IGNORECASE)


def ticket_ref(ticket_id: int) -> str:
    return f"CX-{ticket_id:06d}"


def parse_ref(text: str) -> int:
    """`CX-000123`, `cx-123` or `123` → 123."""
    match = _REF.match(text)
    if not match or int(match.group(1)) == 0:
        raise NotFound(
            say("not a ticket id: {text} (expected something like CX-000123)", text=repr(text))
        )
    return int(match.group(1))
