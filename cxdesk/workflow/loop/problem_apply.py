"""A resolved problem's resolution applied to its linked open cases: each case resolved
through the ordinary resolve (its own follow-up survey), in a transaction of its own, so that
one case that cannot be resolved leaves the others resolved; what happened to each is said."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from cxdesk.errors import CxdeskError, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import Stage, Ticket, TicketKind, TicketLink, TimelineKind
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.desk_commands import ApplyProblemResolution, Resolve
from cxdesk.workflow.loop.moves import resolve
from cxdesk.workflow.loop.unit import Acting, utcnow, work_on

RESOLVED, SKIPPED, REFUSED = "resolved", "skipped", "refused"


@dataclass(frozen=True)
class AppliedCase:
    case: str  # CX-…
    outcome: str  # resolved | skipped | refused
    reason: str = ""


@dataclass
class Applied:
    """What applying a problem's resolution did: the problem, and each linked case."""

    problem: Ticket
    cases: list[AppliedCase] = field(default_factory=list)


def apply_problem_resolution(
    acting: Acting, command: ApplyProblemResolution, session: Session | None
) -> Applied:
    """Resolve every linked open case with the problem's resolution code, root cause and
    action (supervisors; the problem resolved first). A case already resolved or closed is
    skipped; one that cannot be resolved now (pending, new, outside one's teams) is refused
    with the reason the resolve gave."""
    assert session is None, "each case is resolved in a transaction of its own"
    at = command.at or utcnow()
    with work_on(acting, command, None) as work:
        problem = work.ticket
        ref = ticket_ref(command.ticket_id)
        if problem.kind != TicketKind.PROBLEM:
            raise WorkflowError(say("{ref} is not a problem ticket", ref=ref))
        code, root_cause, action = problem.resolution_code, problem.root_cause, problem.action_taken
        if not (code and root_cause and action):
            raise WorkflowError(say("{ref} has no resolution to apply; resolve it first", ref=ref))
        stages = work.session.exec(
            select(TicketLink.case_id, Ticket.stage)
            .join(Ticket, col(Ticket.id) == TicketLink.case_id)
            .where(TicketLink.problem_id == command.ticket_id)
            .order_by(col(TicketLink.case_id))
        ).all()
        work.unchanged = True  # its summary once the cases are done
    applied = Applied(problem)
    for case_id, stage in stages:
        case = ticket_ref(case_id)
        if stage in (Stage.VERIFY, Stage.CLOSED):
            reason = say("already {stage}", stage=stage)
            applied.cases.append(AppliedCase(case, SKIPPED, str(reason)))
            continue
        try:
            resolve(
                acting,
                Resolve(case_id, code=code, root_cause=root_cause, action=action, at=at),
                None,
            )
        except CxdeskError as exc:
            applied.cases.append(AppliedCase(case, REFUSED, str(exc)))
            continue
        applied.cases.append(AppliedCase(case, RESOLVED))
    counts = {o: sum(c.outcome == o for c in applied.cases) for o in (RESOLVED, SKIPPED, REFUSED)}
    with work_on(acting, ApplyProblemResolution(command.ticket_id, at=at), None) as work:
        work.timeline(
            TimelineKind.NOTE,
            say(
                "resolution applied to its cases: {resolved} resolved, {skipped} skipped, "
                "{refused} refused",
                **counts,
            ),
            cases=[{"case": c.case, "outcome": c.outcome} for c in applied.cases],
        )
    applied.problem = work.ticket
    return applied
