"""Turning domain values into display text for the screens (always plain `Text`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.terminal_theme import TerminalTheme
from rich.text import Text

from cxdesk.i18n import N_, Translator
from cxdesk.output import sanitize
from cxdesk.workflow.basics.instants import local_text
from cxdesk.workflow.clocks.sla import STATE_MARK, ClockReading, SlaState, format_remaining

# Named colours (red, yellow, …) reach the screen through an ANSI palette that Textual picks by
# the theme's darkness. Its light one (Alabaster) has a yellow (#cb9000), a cyan and a green too
# pale on textual-light's grey (#e0e0e0): yellow at about 2:1, and at-risk clocks and P2 are
# yellow. The same palette with those three darkened to 4.5:1 or better; dark themes keep theirs.
LIGHT_ANSI = TerminalTheme(
    (247, 247, 247),
    (0, 0, 0),
    [
        (0, 0, 0),
        (170, 55, 49),
        (47, 110, 18),  # green
        (120, 84, 0),  # yellow
        (50, 92, 192),
        (122, 62, 157),
        (0, 106, 145),  # cyan
        (247, 247, 247),
        (119, 119, 119),
    ],
    [
        (240, 80, 80),
        (96, 203, 0),
        (255, 188, 93),
        (0, 122, 204),
        (230, 76, 230),
        (0, 170, 203),
        (247, 247, 247),
    ],
)

STATE_STYLE = {SlaState.BREACHED: "bold red", SlaState.AT_RISK: "yellow", SlaState.OK: ""}
PRIORITY_STYLE = {"P1": "bold red", "P2": "yellow", "P3": ""}


def plain(value: object | None, style: str = "") -> Text:
    """Untrusted text as inert display text on one line: no markup, no links, no actions,
    and no control sequence (Textual passes ESC through to the terminal)."""
    shown = sanitize("" if value is None else str(value))
    return Text(shown, style=style, no_wrap=True, overflow="ellipsis")


def block(value: str) -> Text:
    """Untrusted text of several lines (a note, a comment) as inert display text."""
    return Text(sanitize(value, multiline=True))


def sla_cell(reading: ClockReading | None, t: Translator | None = None) -> Text:
    """`~3h 05m` at risk, `!BREACHED 2h 05m` overdue (the word in the desk's language)."""
    if reading is None:
        return Text("—", style="dim")
    shown = format_remaining(reading)
    if reading.state is SlaState.BREACHED and t is not None:
        shown = t("BREACHED {time}", time=shown.removeprefix("BREACHED "))
    return Text(f"{STATE_MARK[reading.state]}{shown}", style=STATE_STYLE[reading.state])


SORT_TITLES = {"sla": N_("SLA"), "priority": N_("priority"), "age": N_("age")}  # by Sort value


def age(opened_at: datetime, now: datetime) -> str:
    elapsed = max(now - opened_at, timedelta(0))
    days, rest = divmod(int(elapsed.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {rest // 60:02d}m"
    return f"{rest // 60}m"


def local_time(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "—"
    return local_text(moment, timezone)


NOTICE_TITLES = {  # toasts' titles, by notice kind
    "at_risk": N_("SLA at risk"),
    "breach": N_("SLA breached"),
    "escalation": N_("Escalated to you"),
    "problem": N_("Its problem is resolved"),
}
SCREEN_TITLES = {  # the help overlay names the screen underneath
    "queue": N_("queue"),
    "ticket": N_("ticket"),
    "dashboard": N_("dashboard"),
    "inbox": N_("inbox"),
    "customer": N_("customer"),
}
