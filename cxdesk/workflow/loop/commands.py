"""Every change to a ticket as data: what is asked, by whom it is built (TUI, CLI, ingest,
sweep) and handed to `TicketService.handle`, which finds its handler.

Here: the base every command on one ticket is built on, with the `Input` a person's command
declares, and the commands automation gives (ingest, the sweep, metric alerts); the commands
people give from the desk are in `desk_commands`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # only named: the CLI imports this module and stays light
    from cxdesk.models import TicketKind


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
    """The customer answered the follow-up survey: the answer's event (stored) and scores."""

    NAME = "verify"

    event_id: str
    nps: int | None = None
    csat: int | None = None


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
