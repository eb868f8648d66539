"""Cases and the problems that explain them: linking, merging duplicates, closing a problem
with the evidence that it is fixed."""

from __future__ import annotations

from sqlmodel import Session, select

from cxdesk.errors import NotFound, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import (
    FeedbackEvent,
    Stage,
    Ticket,
    TicketKind,
    TicketLink,
    TimelineKind,
    VerifyOutcome,
)
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.desk_commands import CloseProblem, Link, Merge, Unlink
from cxdesk.workflow.loop.opening import is_more_urgent
from cxdesk.workflow.loop.problem_scope import add_link
from cxdesk.workflow.loop.problem_verify import stop_verification
from cxdesk.workflow.loop.rollups import move_events
from cxdesk.workflow.loop.unit import Acting, queue_of, required_text, ticket_work, work_on


def link(acting: Acting, command: Link, session: Session | None) -> Ticket:
    """Attach a case to the problem ticket that explains it."""
    problem_id = command.problem_id
    with work_on(acting, command, session) as work:
        problem = work.session.get(Ticket, problem_id)
        visible = problem is not None and acting.who(work.session).in_scope(
            queue_of(acting, work.session, problem.queue_id).team_id
        )
        if problem is None or not visible or problem.kind != TicketKind.PROBLEM:
            raise NotFound(say("{ref} is not a problem ticket", ref=ticket_ref(problem_id)))
        if problem.stage == Stage.CLOSED:
            raise WorkflowError(
                say(
                    "{ref} is closed; link to a problem that is still open",
                    ref=ticket_ref(problem_id),
                )
            )
        add_link(acting, work, problem_id)  # linked again by hand: said again, kept once
        work.timeline(
            TimelineKind.LINK,
            say("linked to problem {ref}", ref=ticket_ref(problem_id)),
            problem=problem_id,
        )
    return work.ticket


def unlink(acting: Acting, command: Unlink, session: Session | None) -> Ticket:
    """Take a case off a problem (linked by hand or by the problem's scope): an entry on
    each; the problem must be one the supervisor's teams work."""
    case_id, problem_id = command.ticket_id, command.problem_id
    ref = ticket_ref(problem_id)
    with work_on(acting, command, session) as work:
        link_row = work.session.get(TicketLink, (case_id, problem_id))
        if link_row is None:
            raise WorkflowError(
                say("{case} is not linked to {ref}", case=ticket_ref(case_id), ref=ref)
            )
        with ticket_work(acting, "unlink", problem_id, None, work.at, work.session) as problem:
            work.session.delete(link_row)
            work.timeline(TimelineKind.LINK, say("unlinked from problem {ref}", ref=ref))
            problem.timeline(
                TimelineKind.LINK, say("unlinked {case}", case=ticket_ref(case_id)), case=case_id
            )
    return work.ticket


def close_problem(acting: Acting, command: CloseProblem, session: Session | None) -> Ticket:
    """Close a problem ticket once the metric has recovered, with the evidence."""
    with work_on(acting, command, session) as work:
        if work.ticket.kind != TicketKind.PROBLEM:
            raise WorkflowError(
                say(
                    "{ref} is a case; cases close by follow-up verification",
                    ref=ticket_ref(command.ticket_id),
                )
            )
        stop_verification(work.session, work.ticket.id)
        work.ticket.verify_outcome = VerifyOutcome.VERIFIED
        work.ticket.closed_at = work.at
        work.timeline(
            TimelineKind.NOTE,
            say(
                "closed, verified: {evidence}",
                evidence=required_text(command.evidence, "evidence"),
            ),
        )
    return work.ticket


def merge(acting: Acting, command: Merge, session: Session | None) -> Ticket:
    """Fold a duplicate case into another case of the same customer: its events move over,
    the target keeps the higher priority, the source closes as merged."""
    source_id, into_id, at = command.ticket_id, command.into_id, command.at
    if source_id == into_id:
        raise WorkflowError(say("a ticket cannot be merged into itself"))
    with ticket_work(acting, "merge", into_id, None, at, session) as into:
        target = into.ticket
        with ticket_work(acting, "merge", source_id, command.version, at, into.session) as work:
            source = work.ticket
            if TicketKind.CASE not in (source.kind, target.kind) or source.kind != target.kind:
                raise WorkflowError(say("only two cases can be merged"))
            if work.queue.team_id != into.queue.team_id:
                raise WorkflowError(
                    say(
                        "{ref} and {into} are worked by different teams; "
                        "only cases of one team merge",
                        ref=ticket_ref(source_id),
                        into=ticket_ref(into_id),
                    )
                )
            if source.customer_id != target.customer_id:
                raise WorkflowError(
                    say(
                        "{ref} and {into} belong to different customers; "
                        "only cases of one customer merge",
                        ref=ticket_ref(source_id),
                        into=ticket_ref(into_id),
                    )
                )
            if target.stage == Stage.CLOSED:
                raise WorkflowError(
                    say("{ref} is closed; merge into an open case", ref=ticket_ref(into_id))
                )
            moving = work.session.exec(
                select(FeedbackEvent).where(FeedbackEvent.ticket_id == source_id)
            ).all()
            move_events(work.session, list(moving), target)
            raised: dict[str, str] = {}
            if is_more_urgent(source.priority, target.priority):
                raised = {"priority_from": target.priority, "priority_to": source.priority}
                target.priority = source.priority
                acting.planner.start_clocks(
                    target, into.queue, target.reopened_at or target.opened_at
                )
            source.closed_at = work.at
            source.verify_outcome = VerifyOutcome.MERGED
            work.target = Stage.CLOSED
            work.timeline(
                TimelineKind.LINK,
                say("merged into {ref}", ref=ticket_ref(into_id)),
                into=into_id,
            )
        into.timeline(
            TimelineKind.LINK,
            say("merged {ref} into this case", ref=ticket_ref(source_id)),
            source=source_id,
            **raised,
        )
    return into.ticket
