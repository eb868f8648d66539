"""Cleaning untrusted text once, where it enters the model."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, and the bidi embedding/override/isolate
# characters that can make text display differently from what it says.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(value: str) -> str:
    """Remove control and bidi-override characters; CR LF and lone CR become LF."""
    return _UNSAFE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
