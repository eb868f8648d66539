"""Every change to a ticket as data: what is asked, by whom it is built (TUI, CLI, ingest,
sweep) and handed to `TicketService.handle`, which finds its handler.

The commands people give from the desk also declare their inputs once (`INPUTS`): name,
label, help, kind and allowed values. The CLI renders them as click arguments and options,
the ticket screen as form fields, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from cxdesk.i18n import N_
from cxdesk.workflow.basics.refs import parse_ref

if TYPE_CHECKING:  # only named: the CLI imports this module and stays light
    from cxdesk.models import FeedbackEvent, TicketKind

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


@dataclass(frozen=True)
class Input:
    """One value a person gives a command. `kind` says how it is asked for and read:
    text, multiline, code (one of `choices`), agent (a login of the ticket's team), ticket
    (a CX-… reference) or message (typed text, or a template's text filled in)."""

    name: str
    label: str  # on the form, translated
    help: str  # on the CLI
    kind: str = "text"
    required: bool = True
    choices: tuple[str, ...] = ()
    argument: bool = False  # the CLI takes it as a positional argument, not an option
    metavar: str = ""  # the argument's name in the CLI's usage
    current: str = ""  # the ticket's resolution field a form starts from, if any

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


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
class TicketCommand:
    """A command on one ticket, optionally only if it is still at `version` (the optimistic
    lock the desk takes when it shows a ticket), as of `at` (default: now)."""

    NAME: ClassVar[str]  # the stage machine's and the audit's name for it
    TITLE: ClassVar[str] = ""  # on forms and menus, translated
    VERB: ClassVar[str] = ""  # the CLI's "CX-000123 claimed: …"
    INPUTS: ClassVar[tuple[Input, ...]] = ()

    ticket_id: int
    _: KW_ONLY
    version: int | None = None
    at: datetime | None = None


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


# -- commands automation gives (ingest, the sweep, metric alerts) ---------------------------


@dataclass(frozen=True)
class ScopeSpec:
    """What a problem watches and gathers: the metric, its scope (`dimension` all |
    touchpoint | queue | driver | tier, and its `value`), the start of the window whose open
    cases it gathers, and the threshold and figure it was opened with."""

    metric: str
    dimension: str
    value: str | None = None
    gather_since: datetime | None = None
    threshold: float | None = None
    before: float | None = None


@dataclass(frozen=True)
class OpenTicket:
    """Open a ticket; `evidence` (text, data) is a second alert entry, what a metric alert
    saw; `language` and `channel` are what skills-based assignment matches on."""

    kind: TicketKind
    queue_id: str
    priority: str
    title: str
    at: datetime
    customer_id: str | None = None
    rule: str | None = None
    event_id: str | None = None
    tags: Sequence[str] = ()
    evidence: tuple[str, dict[str, Any]] | None = None
    language: str | None = None
    channel: str | None = None
    scope: ScopeSpec | None = None  # a problem's: recorded, and its open cases linked


@dataclass(frozen=True)
class AttachAlert(TicketCommand):
    """Put another alerting event on an open case."""

    NAME = "attach"

    priority: str
    rule: str
    event_id: str


@dataclass(frozen=True)
class RecordFollowupAnswer(TicketCommand):
    """The customer answered the follow-up survey."""

    NAME = "verify"

    event: FeedbackEvent


@dataclass(frozen=True)
class ExpireFollowup(TicketCommand):
    """No answer within the verify window."""

    NAME = "expire"


@dataclass(frozen=True)
class RecordSurveyDelivery(TicketCommand):
    """How one attempt at sending the follow-up survey ended: sent (`error` None), to be tried
    again, or failed for good after the last attempt. `attempt` is the claim's own count, so
    an outcome told after another sweep took the survey over changes nothing."""

    NAME = "survey"

    followup_id: int
    attempt: int
    error: str | None = None


@dataclass(frozen=True)
class SuppressSurvey(TicketCommand):
    """The survey is not sent: its customer had one within the suppression window (`after`,
    the ticket of that survey; `sent_at`, when it went)."""

    NAME = "survey"

    followup_id: int
    after: int
    sent_at: datetime


@dataclass(frozen=True)
class LinkCases(TicketCommand):
    """Link cases of the problem's scope to it: each case gets an entry, the problem one."""

    NAME = "link"

    case_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class VerifyProblem(TicketCommand):
    """The problem's verify window is over: `after` is its metric over the window (None: no
    figure), from `answers` answers; the handler concludes verified, reopened or unverified."""

    NAME = "verify"

    after: float | None = None
    answers: int = 0


@dataclass(frozen=True)
class MarkAtRisk(TicketCommand):
    """Note once per running clock that it passed its at-risk mark."""

    NAME = "sla"


@dataclass(frozen=True)
class EscalateBreach(TicketCommand):
    """Escalate a breached clock once."""

    NAME = "sla"


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
