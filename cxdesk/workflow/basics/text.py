"""Cleaning untrusted text once, where it enters the model."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, the bidi embedding/override/isolate
# characters that can make text display differently from what it says, and lone surrogates
# (bytes that were not UTF-8, as Python reads them from a pipe), which no encoder can write.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Remove control and bidi-override characters; CR LF and lone CR become LF."""
    return _UNSAFE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


# Stored text: PostgreSQL's text cannot hold NUL (SQLite's can), so ingest stores each NUL
# of a raw record as "␀0" and each "␀" (U+2400, SYMBOL FOR NULL) as "␀␀": every "␀" of
# stored text starts a pair, read back one way only, so the quarantine's text is retried
# exactly as it came.
_NUL, _SIGN = "\x00", "\u2400"
_PAIR = re.compile("\u2400(.)", re.DOTALL)
_READ_BACK = {"0": _NUL, _SIGN: _SIGN}  # any other pair was stored before NUL was escaped


def storable(text: str) -> str:
    """The text with NUL escaped reversibly (see `original`): storable on every backend."""
    if _SIGN in text:
        text = text.replace(_SIGN, _SIGN + _SIGN)
    if _NUL in text:
        text = text.replace(_NUL, _SIGN + "0")
    return text


def original(stored: str) -> str:
    """The text `storable` was given."""
    if _SIGN not in stored:
        return stored
    return _PAIR.sub(lambda pair: _READ_BACK.get(pair[1], pair[0]), stored)


def decodable(text: str) -> str:
    """The text with bytes that were not UTF-8 (kept by `surrogateescape`) shown as U+FFFD,
    so that it can be encoded, stored and printed."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_BLANKS = re.compile(r"\s+")


def one_line(text: str, limit: int) -> str:
    """Foreign text (a command's error output) as one clean line of at most `limit`
    characters: controls gone, every run of blanks and newlines one space, the rest cut
    with an ellipsis."""
    line = _BLANKS.sub(" ", clean_text(decodable(text))).strip()
    return line if len(line) <= limit else line[: max(limit - 1, 0)] + "…"
