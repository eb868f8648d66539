"""Who works a ticket: claiming one, claiming the next most urgent, assigning one."""

from __future__ import annotations

from sqlalchemy import nulls_last
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from cxdesk.errors import NotFound, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import Agent, AgentTeam, Stage, Ticket, TicketKind, TimelineKind
from cxdesk.workflow.access.permissions import visible_queues
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.desk_commands import Assign, Claim, ClaimNext
from cxdesk.workflow.loop.unit import Acting, Work, queue_of, ticket_work, work_on

# What claim-next hands out: cases someone has to work. A verifying case is left out: it is
# resolved, and the follow-up, not an agent, decides what happens next. A pending case stays in:
# it still needs an owner for when the customer answers, but its clocks are paused (sla_due is
# NULL), so it sorts after every case whose clock runs.
CLAIMABLE_STAGES = (Stage.NEW, Stage.COLLECT, Stage.ANALYZE, Stage.FIX, Stage.PENDING)
# Claim-next picks this many candidates outside the write lock (when others took them all, it
# picks one more inside it).
CLAIM_NEXT_CANDIDATES = 10


def claim(acting: Acting, command: Claim, session: Session | None) -> Ticket:
    with work_on(acting, command, session) as work:
        _take(acting, work)
    return work.ticket


def claim_next(acting: Acting, command: ClaimNext, session: Session | None) -> Ticket:
    """Claim the most urgent unassigned open case in the queues the actor may work (or in
    `queue`): the nearest SLA due first, then the higher priority, then the oldest.

    The pick sorts the unassigned backlog, so it runs in a read transaction and holds no
    write lock (on SQLite every other writer would wait for the sort). The first few
    candidates are then claimed in one short write transaction through the ordinary
    claim, version checked: the first one still as it was read is taken. Agents asking
    at the same moment get different tickets: on SQLite the write transaction (BEGIN
    IMMEDIATE) serialises them; on PostgreSQL a candidate another claimer holds is passed
    over (`FOR UPDATE SKIP LOCKED`) rather than waited for. When others took every
    candidate in between, it picks again.
    """
    queue = command.queue
    with acting.db.session() as reading:
        who = acting.who(reading)
        if who.is_system:
            raise WorkflowError(say("claim-next takes a ticket for an agent, not for automation"))
        if queue is not None:
            team = queue_of(acting, reading, queue).team_id
            who.authorize("claim", team, f"queue {queue}")
            scope: tuple[str, ...] | None = (queue,)
        else:
            scope = visible_queues(reading, who)
    pick = (
        select(Ticket.id, Ticket.version)
        .where(
            Ticket.kind == TicketKind.CASE,
            col(Ticket.assignee).is_(None),
            col(Ticket.stage).in_(CLAIMABLE_STAGES),
        )
        .order_by(nulls_last(col(Ticket.sla_due).asc()), col(Ticket.priority), col(Ticket.id))
        .limit(CLAIM_NEXT_CANDIDATES)
    )
    if scope is not None:
        pick = pick.where(col(Ticket.queue_id).in_(scope))
    with acting.db.session() as reading:
        candidates = [(i, v) for i, v in reading.exec(pick).all() if i is not None]
    ticket = _claim_first(acting, candidates, pick, command) if candidates else None
    if ticket is None:
        if queue:
            nothing = say("nothing to claim: no unassigned open case in queue {queue}", queue=queue)
        elif scope is None:
            nothing = say("nothing to claim: no unassigned open case in the queues you work")
        else:
            nothing = say(
                "nothing to claim: no unassigned open case in the queues you work ({queues})",
                queues=", ".join(scope) or "none",
            )
        raise WorkflowError(nothing)
    return ticket


def _claim_first(
    acting: Acting,
    candidates: list[tuple[int, int]],
    pick: Select[int | None, int],
    command: ClaimNext,
) -> Ticket | None:
    """Claim the first of `candidates` (id, version as read) that nobody changed or holds
    since. When others took them all meanwhile, pick again inside the transaction (under
    the write lock on SQLite, passing over rows others hold on PostgreSQL), so a claim
    fails only when no claimable case is left: None."""
    with acting.db.write() as session:
        chosen = next((c for c in candidates if _still_free(session, *c)), None)
        if chosen is None:
            row = session.exec(pick.limit(1).with_for_update(skip_locked=True)).first()
            if row is None or row[0] is None:
                return None
            chosen = row[0], row[1]
        with ticket_work(acting, "claim", chosen[0], chosen[1], command.at, session) as work:
            _take(acting, work)
        return work.ticket


def _still_free(session: Session, ticket_id: int, version: int) -> bool:
    """Unchanged and unassigned since it was read, and not being changed right now."""
    still_free = (
        select(Ticket.id)
        .where(
            Ticket.id == ticket_id,
            Ticket.version == version,
            col(Ticket.assignee).is_(None),
        )
        .with_for_update(skip_locked=True)
    )
    return session.exec(still_free).first() is not None


def _take(acting: Acting, work: Work) -> None:
    """The claim itself: the ticket becomes the actor's, on its timeline."""
    ref = ticket_ref(work.ticket.id or 0)
    if work.ticket.assignee == acting.actor:
        raise WorkflowError(say("{ref} is already yours", ref=ref))
    if work.ticket.assignee is not None:
        raise WorkflowError(
            say("{ref} is already assigned to {login}", ref=ref, login=work.ticket.assignee)
        )
    work.ticket.assignee = acting.actor
    work.timeline(
        TimelineKind.ASSIGNMENT,
        say("claimed by {actor}", actor=acting.actor),
        assignee=acting.actor,
    )


def assign(acting: Acting, command: Assign, session: Session | None) -> Ticket:
    login = command.login
    with work_on(acting, command, session) as work:
        agent = work.session.get(Agent, login)
        if agent is None or not agent.active:
            raise NotFound(say("no active agent with login {login}", login=repr(login)))
        if work.session.get(AgentTeam, (login, work.queue.team_id)) is None:
            raise WorkflowError(
                say(
                    "{login} is not in team {team}, which owns {queue}",
                    login=login,
                    team=work.queue.team_id,
                    queue=work.queue.id,
                )
            )
        if login == work.ticket.assignee:
            raise WorkflowError(
                say(
                    "{ref} is already assigned to {login}",
                    ref=ticket_ref(command.ticket_id),
                    login=login,
                )
            )
        previous = work.ticket.assignee
        work.ticket.assignee = login
        work.detail["from"] = previous
        work.timeline(
            TimelineKind.ASSIGNMENT,
            say("assigned to {login} (was {previous})", login=login, previous=previous)
            if previous
            else say("assigned to {login}", login=login),
            assignee=login,
        )
    return work.ticket
