"""The commands people give from the desk (the CLI's verbs, the ticket screen's actions, the
queue's bulk actions), each declaring its inputs once (`INPUTS`): name, label, help, kind and
allowed values. The CLI renders them as click arguments and options, the ticket screen as
form fields, so the two cannot drift apart; `command_from_values` reads them back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxdesk.i18n import N_
from cxdesk.workflow.basics.refs import parse_ref
from cxdesk.workflow.loop.commands import Input, TicketCommand

# What a resolution may be coded as; reports group by it, so free text would split groups.
RESOLUTION_CODES = (
    "refund",
    "replacement",
    "repair",
    "explanation",
    "compensation",
    "fix",
    "no_action",
)


REASON = Input("reason", N_("Reason"), "Why.")
PROBLEM = Input(
    "problem_id",
    N_("Problem ticket (CX-…)"),
    "The problem ticket.",
    "ticket",
    argument=True,
    metavar="PROBLEM",
)
MESSAGE = Input("body", N_("Text"), "The text (- reads it from standard input).", "message")


@dataclass(frozen=True)
class Claim(TicketCommand):
    """Take an unassigned ticket."""

    NAME = "claim"
    TITLE = N_("Claim")
    VERB = "claimed"


@dataclass(frozen=True)
class Assign(TicketCommand):
    """Assign or reassign a ticket to LOGIN (supervisors)."""

    NAME = "assign"
    TITLE = N_("Assign")
    VERB = "assigned"
    INPUTS = (Input("login", N_("Agent"), "The agent's login.", "agent", argument=True),)

    login: str


@dataclass(frozen=True)
class Respond(TicketCommand):
    """Reply to the customer; the first reply is the first response."""

    NAME = "respond"
    TITLE = N_("Respond")
    VERB = "answered"
    INPUTS = (MESSAGE,)

    body: str


@dataclass(frozen=True)
class Note(TicketCommand):
    """Add an internal note."""

    NAME = "note"
    TITLE = N_("Note")
    VERB = "noted"
    INPUTS = (MESSAGE,)

    body: str


@dataclass(frozen=True)
class Pend(TicketCommand):
    """Wait on the customer or a third party; the SLA clock stops."""

    NAME = "pend"
    TITLE = N_("Pend")
    VERB = "pending"
    INPUTS = (Input("reason", N_("Reason"), "What the ticket waits for."),)

    reason: str


@dataclass(frozen=True)
class Resume(TicketCommand):
    """End the wait; the SLA clock runs on with the time it had left."""

    NAME = "resume"
    TITLE = N_("Resume")
    VERB = "resumed"


@dataclass(frozen=True)
class Analyze(TicketCommand):
    """Code the root cause; the ticket moves on to fix."""

    NAME = "analyze"
    TITLE = N_("Analyze")
    VERB = "analysed"
    INPUTS = (
        Input("root_cause", N_("Root cause"), "What caused it."),
        Input("driver", N_("Driver"), "The driver category (e.g. late_delivery)."),
        Input("touchpoint", N_("Touchpoint"), "The touchpoint at fault.", required=False),
    )

    root_cause: str
    driver: str
    touchpoint: str | None = None


@dataclass(frozen=True)
class Resolve(TicketCommand):
    """Record the resolution; the follow-up survey is scheduled."""

    NAME = "resolve"
    TITLE = N_("Resolve")
    VERB = "resolved"
    INPUTS = (
        Input(
            "code",
            N_("Resolution code"),
            "The resolution code: " + ", ".join(RESOLUTION_CODES) + ".",
            "code",
            choices=RESOLUTION_CODES,
        ),
        Input("root_cause", N_("Root cause"), "What caused it.", current="root_cause"),
        Input("action", N_("Action taken"), "What was done."),
        Input("remedy", N_("Customer remedy"), "What the customer was given.", required=False),
    )

    code: str
    root_cause: str
    action: str
    remedy: str | None = None


@dataclass(frozen=True)
class Escalate(TicketCommand):
    """One level up the ladder (team supervisor, then CX manager)."""

    NAME = "escalate"
    TITLE = N_("Escalate")
    VERB = "escalated"
    INPUTS = (REASON,)

    reason: str


@dataclass(frozen=True)
class Deescalate(TicketCommand):
    """One level down the ladder (supervisors)."""

    NAME = "deescalate"
    TITLE = N_("De-escalate")
    VERB = "de-escalated"
    INPUTS = (REASON,)

    reason: str


@dataclass(frozen=True)
class Reopen(TicketCommand):
    """Back to analyze (supervisors)."""

    NAME = "reopen"
    TITLE = N_("Reopen")
    VERB = "reopened"
    INPUTS = (REASON,)

    reason: str


@dataclass(frozen=True)
class Link(TicketCommand):
    """Link a case to the PROBLEM ticket that explains it."""

    NAME = "link"
    TITLE = N_("Link problem")
    VERB = "linked"
    INPUTS = (PROBLEM,)

    problem_id: int


@dataclass(frozen=True)
class Unlink(TicketCommand):
    """Take a case off a problem ticket it was linked to (supervisors)."""

    NAME = "unlink"
    TITLE = N_("Unlink problem")
    VERB = "unlinked"
    INPUTS = (PROBLEM,)

    problem_id: int


@dataclass(frozen=True)
class CloseProblem(TicketCommand):
    """Close a problem ticket with the evidence that it is fixed (supervisors)."""

    NAME = "close"
    TITLE = N_("Close problem")
    VERB = "closed"
    INPUTS = (Input("evidence", N_("Evidence"), "How the metric shows it is fixed."),)

    evidence: str


@dataclass(frozen=True)
class Merge(TicketCommand):
    """Merge the ticket into INTO, another case of the same customer."""

    NAME = "merge"
    TITLE = N_("Merge")
    VERB = "merged into"
    INPUTS = (
        Input(
            "into_id",
            N_("Into case (CX-…)"),
            "The case to merge into.",
            "ticket",
            argument=True,
            metavar="INTO",
        ),
    )

    into_id: int


# The commands people give from the desk, in the order the CLI lists them.
DESK_COMMANDS: tuple[type[TicketCommand], ...] = (
    Claim,
    Assign,
    Respond,
    Note,
    Pend,
    Resume,
    Analyze,
    Resolve,
    Escalate,
    Deescalate,
    Reopen,
    Link,
    Unlink,
    CloseProblem,
    Merge,
)
BY_NAME: dict[str, type[TicketCommand]] = {c.NAME: c for c in DESK_COMMANDS}
# What a supervisor does to many marked tickets at once in the queue.
BULK_COMMANDS: tuple[type[TicketCommand], ...] = (Assign, Escalate, Note, Pend, Link, CloseProblem)


@dataclass(frozen=True)
class ClaimNext:
    """Take the most urgent unassigned open case (in `queue`, or every queue one works)."""

    queue: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class OpenProblem:
    """Open a problem ticket for a driver or a touchpoint, in `queue` (default: the metric
    alerts' queue), and link the open cases of that driver or touchpoint (supervisors)."""

    dimension: str  # driver | touchpoint
    value: str
    queue: str | None = None
    priority: str = "P2"
    at: datetime | None = None


@dataclass(frozen=True)
class ApplyProblemResolution(TicketCommand):
    """Resolve every linked open case with the problem's resolution, each through the
    ordinary resolve (its own follow-up survey); says per case what was done (supervisors)."""

    NAME = "apply"
    TITLE = N_("Apply to cases")
    VERB = "applied"


def command_from_values(
    kind: type[TicketCommand],
    ticket_id: int,
    values: Mapping[str, str | None],
    *,
    version: int | None,
    at: datetime | None,
    fill_template: Callable[[str], str],
) -> TicketCommand:
    """The command from its inputs as a person gave them (a form's fields, the CLI's
    options): a message typed or a template's name (`fill_template` renders it), a ticket
    as CX-…, an optional value left empty as None. Required text left empty reaches the
    handler, which says what is missing."""
    given: dict[str, Any] = {}
    for spec in kind.INPUTS:
        value: Any = values.get(spec.name)
        if spec.kind == "message":
            text, template = values.get("message") or "", values.get("template")
            value = fill_template(template) if not text and template else text
        elif spec.kind == "ticket":
            value = parse_ref(value or "")
        elif not value:
            value = "" if spec.required else None
        given[spec.name] = value
    return kind(ticket_id, **given, version=version, at=at)
