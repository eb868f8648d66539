"""A problem's fix verified by its metric: resolving it starts a verify window (and tells its
linked open cases); when the window ends the sweep measures the metric over it and concludes.

Decided at the window's end, not as soon as the figure looks recovered: a metric read over a
few days of answers swings, and an early "verified" that the rest of the window would undo
closes the problem for good. With at least `verify_min_answers` answers (no minimum for a
count, such as complaints a day): back past the threshold that opened it → closed verified;
not → reopened and escalated one level; too few answers (or no threshold to compare with) →
closed unverified. The before and after figures go on its timeline."""

from __future__ import annotations

from sqlmodel import Session, col, select

from cxdesk.errors import CxdeskError, WorkflowError
from cxdesk.i18n import Message, say
from cxdesk.models import ProblemScope, Stage, Ticket, TicketLink, TimelineKind, VerifyOutcome
from cxdesk.models.tickets import MAX_ESCALATION
from cxdesk.workflow.basics.instants import local_text
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.commands import VerifyProblem
from cxdesk.workflow.loop.problem_figures import COUNTED, recovered
from cxdesk.workflow.loop.unit import (
    Acting,
    Work,
    escalation_logins,
    own_unit,
    reopen_work,
    ticket_work,
)

REOPENED = "reopened"  # a scope's outcome besides the VerifyOutcome values
STOPPED = "stopped"  # reopened or closed by hand while verifying


def start_verification(acting: Acting, work: Work) -> None:
    """On resolving a problem: its verify window starts (if it watches a metric), and each
    linked open case hears of the fix (an entry, and its assignee a notification)."""
    ticket = work.ticket
    scope = work.session.get(ProblemScope, ticket.id)
    if scope is not None:
        scope.verify_since = work.at
        scope.verify_until = work.at + acting.settings.metric_alerts.verify_window
        scope.after = scope.answers = scope.outcome = None
        work.timeline(
            TimelineKind.NOTE,
            say(
                "verifying by {metric} until {until}",
                metric=scope.metric,
                until=local_text(scope.verify_until, acting.settings.timezone),
            ),
        )
    told = say(
        "problem {ref} resolved ({code}): {action}",
        ref=ticket_ref(ticket.id or 0),
        code=ticket.resolution_code or "",
        action=ticket.action_taken or "",
    )
    for case_id in linked_open_cases(work.session, ticket.id or 0):
        try:  # in a savepoint: a note refused once begun leaves nothing of itself behind
            with (
                work.session.begin_nested(),
                ticket_work(acting, "note", case_id, None, work.at, work.session) as case,
            ):
                case.timeline(TimelineKind.LINK, told, problem=ticket.id)
                case.notify([case.ticket.assignee], "problem", told)
        except CxdeskError:  # a case the resolver may not see or note: it is not told
            continue


def linked_open_cases(session: Session, problem_id: int) -> list[int]:
    """The problem's linked cases not yet closed, in number order (the order rows are locked)."""
    return list(
        session.exec(
            select(TicketLink.case_id)
            .join(Ticket, col(Ticket.id) == TicketLink.case_id)
            .where(TicketLink.problem_id == problem_id, Ticket.stage != Stage.CLOSED)
            .order_by(col(TicketLink.case_id))
        )
    )


def stop_verification(session: Session, problem_id: int | None) -> None:
    """A problem reopened or closed by hand while verifying: the sweep no longer concludes."""
    scope = session.get(ProblemScope, problem_id)
    if scope is not None and scope.verify_until is not None and scope.outcome is None:
        scope.outcome = STOPPED


def verify_problem(acting: Acting, command: VerifyProblem, session: Session | None) -> Ticket:
    """Conclude a problem's verification with the figure the sweep measured over its window."""
    problem_id, ref = command.ticket_id, ticket_ref(command.ticket_id)
    with own_unit(acting, session) as unit:
        scope = unit.get(ProblemScope, problem_id, populate_existing=True)
        until = scope.verify_until if scope is not None else None
        early = until is not None and command.at is not None and command.at < until
        if scope is None or scope.outcome is not None or until is None or early:
            raise WorkflowError(say("{ref} has no verification due", ref=ref))
        enough = scope.metric in COUNTED or command.answers >= (
            acting.settings.metric_alerts.verify_min_answers
        )
        after, threshold = command.after, scope.threshold
        if after is None or threshold is None or not enough:
            outcome = VerifyOutcome.UNVERIFIED.value
        elif recovered(scope.metric, threshold, after):
            outcome = VerifyOutcome.VERIFIED.value
        else:
            outcome = REOPENED
        name = "reopen" if outcome == REOPENED else "verify"
        with ticket_work(acting, name, problem_id, None, command.at, unit) as work:
            scope.after, scope.answers, scope.outcome = after, command.answers, outcome
            figures: dict[str, str | int] = {
                "metric": scope.metric,
                "before": _figure(scope.before),
                "after": _figure(after),
                "answers": command.answers,
                "threshold": _figure(threshold),
            }
            if outcome == REOPENED:
                _reopen(acting, work, figures)
            else:
                work.ticket.verify_outcome = outcome
                work.ticket.closed_at = work.at
                work.timeline(TimelineKind.NOTE, _concluded(outcome, figures), figures=figures)
    return work.ticket


def _concluded(outcome: str, figures: dict[str, str | int]) -> Message:
    if outcome == VerifyOutcome.VERIFIED:
        return say(
            "verified by {metric}: {before} → {after} ({answers} answers; threshold "
            "{threshold}); closed",
            **figures,
        )
    return say(
        "not verified by {metric}: {before} → {after} ({answers} answers; threshold "
        "{threshold}); closed unverified",
        **figures,
    )


def _reopen(acting: Acting, work: Work, figures: dict[str, str | int]) -> None:
    ticket = work.ticket
    ticket.escalation_level = min(ticket.escalation_level + 1, MAX_ESCALATION)
    body = say(
        "{metric} did not recover: {before} → {after} ({answers} answers; threshold "
        "{threshold}); reopened, escalation level {level}",
        **figures,
        level=ticket.escalation_level,
    )
    reopen_work(acting, work, body, kind=TimelineKind.ESCALATION)
    work.notify(
        [*escalation_logins(acting, work.session, work.queue, ticket.escalation_level)],
        "escalation",
        body,
    )


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
