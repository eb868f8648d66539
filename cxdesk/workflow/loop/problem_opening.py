"""A problem opened by hand (from the drivers Pareto or a touchpoint's figures): a supervisor
names a driver or a touchpoint; the problem opens with that scope, the figure it starts from
(its metric over the verify window's length before now), and the open cases of the scope
linked, whenever they opened."""

from __future__ import annotations

from sqlmodel import Session, select

from cxdesk.errors import WorkflowError
from cxdesk.i18n import say
from cxdesk.models import Priority, Ticket, TicketKind
from cxdesk.models.tickets import NOT_CLOSED
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.commands import OpenTicket, ScopeSpec
from cxdesk.workflow.loop.desk_commands import OpenProblem
from cxdesk.workflow.loop.opening import open_in_queue
from cxdesk.workflow.loop.problem_figures import BY_HAND, measure
from cxdesk.workflow.loop.unit import Acting, optional_text, own_unit, queue_of, utcnow

MAX_SCOPE_VALUE = 128  # a driver or touchpoint, as long as a ticket's may be


def open_problem_watching(session: Session, rule: str) -> int | None:
    """The open problem watching `rule` (a metric alert's key, or the driver or touchpoint
    one was opened for by hand), if any: sought by kind in the index of the tickets not
    closed, whose condition the statement repeats; with the stage bound, SQLite read every
    ticket (180 ms on a million, under the write lock)."""
    return session.exec(
        select(Ticket.id).where(Ticket.kind == TicketKind.PROBLEM, NOT_CLOSED, Ticket.rule == rule)
    ).first()


def open_problem(acting: Acting, command: OpenProblem, session: Session | None) -> Ticket:
    """Open the problem and link its open cases, in one transaction (supervisors)."""
    metric = BY_HAND.get(command.dimension)
    if metric is None:
        raise WorkflowError(
            say(
                "a problem is opened by hand for a driver or a touchpoint, not {dimension}",
                dimension=repr(command.dimension),
            )
        )
    value = optional_text(command.value, command.dimension)
    if not value:
        raise WorkflowError(say("{what} is required", what=command.dimension))
    if len(value) > MAX_SCOPE_VALUE:  # as long as a ticket's driver may be
        raise WorkflowError(
            say(
                "{what} is {length} characters long; at most {limit}",
                what=command.dimension,
                length=len(value),
                limit=MAX_SCOPE_VALUE,
            )
        )
    if command.priority not in {p.value for p in Priority}:
        raise WorkflowError(say("unknown priority {priority}", priority=repr(command.priority)))
    at = command.at or utcnow()
    with own_unit(acting, session) as unit:
        queue = queue_of(acting, unit, command.queue or acting.settings.metric_alerts.queue)
        acting.who(unit).authorize("open_problem", queue.team_id, "a new problem")
        rule = f"problem:{command.dimension}:{value}"[:128]
        already = open_problem_watching(unit, rule)
        if already is not None:
            raise WorkflowError(
                say(
                    "{ref} already watches {dimension} {value}",
                    ref=ticket_ref(already),
                    dimension=command.dimension,
                    value=value,
                )
            )
        before = measure(unit, metric, value, at - acting.settings.metric_alerts.verify_window, at)
        figure = "—" if before.value is None else f"{before.value:.1f}"
        evidence = say(
            "opened by {login} for {dimension} {value}: {metric} {figure} ({answers} answers)",
            login=acting.actor,
            dimension=command.dimension,
            value=value,
            metric=metric,
            figure=figure,
            answers=before.answers,
        )
        return open_in_queue(
            acting,
            OpenTicket(
                kind=TicketKind.PROBLEM,
                queue_id=queue.id,
                priority=command.priority,
                title=f"[{command.dimension}] {value}",
                at=at,
                rule=rule,
                tags=["problem", command.dimension],
                evidence=(str(evidence), {"say": evidence.stored(), "metric": metric}),
                scope=ScopeSpec(
                    metric=metric,
                    dimension=command.dimension,
                    value=value,
                    threshold=before.value,
                    before=before.value,
                ),
            ),
            queue,
            unit,
        )
