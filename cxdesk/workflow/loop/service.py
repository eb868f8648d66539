"""The service layer: every change to a ticket, whoever asks (TUI, CLI, ingest, sweep).

Each command loads the ticket under a write lock, checks the caller's version, checks the
stage, applies the change, records a timeline entry and an audit row, and bumps the version,
in a transaction of its own or in its caller's (ingest; the sweep's batches, one savepoint a
ticket). Notifications reach the hook once that transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, event, nulls_last
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import NotFound, StaleVersion, UnusableTicket, WorkflowError
from cxdesk.i18n import Message, say
from cxdesk.models import (
    Agent,
    AgentTeam,
    AuditEntry,
    FeedbackEvent,
    FollowUp,
    FollowUpStatus,
    Notification,
    Priority,
    Queue,
    Stage,
    Team,
    Ticket,
    TicketKind,
    TicketLink,
    TimelineEntry,
    TimelineKind,
    VerifyOutcome,
)
from cxdesk.workflow.access.permissions import SYSTEM_LOGIN, Actor, load_actor, visible_queues
from cxdesk.workflow.audit.chain import (
    AuditChain,
    append_audit,
    chain_key,
    ticket_state,
    timeline_row_digest,
)
from cxdesk.workflow.basics.instants import local_text
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.text import clean_text
from cxdesk.workflow.clocks.calendar import Unmeasurable
from cxdesk.workflow.clocks.sla import KNOWN_PRIORITIES, SlaPlanner
from cxdesk.workflow.loop.assignment import Assigner
from cxdesk.workflow.loop.notifications import announce
from cxdesk.workflow.loop.stages import next_stage, resume_stage

SYSTEM_ACTOR = SYSTEM_LOGIN
MAX_ESCALATION = 2
# What claim-next hands out: cases someone has to work. A verifying case is left out: it is
# resolved, and the follow-up, not an agent, decides what happens next. A pending case stays in:
# it still needs an owner for when the customer answers, but its clocks are paused (sla_due is
# NULL), so it sorts after every case whose clock runs.
CLAIMABLE_STAGES = (Stage.NEW, Stage.COLLECT, Stage.ANALYZE, Stage.FIX, Stage.PENDING)
# Claim-next picks this many candidates outside the write lock (when others took them all, it
# picks one more inside it).
CLAIM_NEXT_CANDIDATES = 10


# session.info keys: notifications made in the session's transaction, told once it commits;
# the batch the session runs, if any.
_HELD_NOTICES = "cxdesk_held_notices"
_BATCH = "cxdesk_batch"
_Held = tuple[SessionTransaction, Settings, Notification]
T = TypeVar("T")
M = TypeVar("M")


def utcnow() -> datetime:
    return datetime.now(UTC)


_URGENCY = {priority.value: rank for rank, priority in enumerate(Priority)}  # P1 first


def is_more_urgent(priority: str, than: str) -> bool:
    return _URGENCY[priority] < _URGENCY[than]


def opening_note(queue_id: str, priority: str, rule: str | None) -> Message:
    if rule:
        return say(
            "opened in {queue} as {priority} by rule {rule}",
            queue=queue_id,
            priority=priority,
            rule=rule,
        )
    return say("opened in {queue} as {priority}", queue=queue_id, priority=priority)


def alert_note(rule: str, priority: str, raised_from: str | None) -> Message:
    """The timeline text of an alert attached to an open case."""
    if raised_from:
        return say(
            "alert {rule} ({priority}); priority {before} → {priority}",
            rule=rule,
            priority=priority,
            before=raised_from,
        )
    return say("alert {rule} ({priority})", rule=rule, priority=priority)


def assignment_note(login: str, mode: str) -> Message:
    return say("assigned to {assignee} ({mode})", assignee=login, mode=mode)


def raise_priority(priority: str) -> str:
    """One step more urgent (P3 → P2 → P1); P1 stays P1."""
    order = list(Priority)
    return order[max(order.index(Priority(priority)) - 1, 0)].value


def _row(session: Session, model: type[M], key: Any) -> M | None:
    """`session.get`, kept for the rest of a batch when the session runs one."""
    batch: Batch | None = session.info.get(_BATCH)
    if batch is None:
        return session.get(model, key)
    if (model, key) not in batch.rows:
        batch.rows[model, key] = session.get(model, key)
    return batch.rows[model, key]


def _audit(session: Session, **row: Any) -> None:
    """Append an audit row: to the batch's chain when the session runs a batch."""
    batch: Batch | None = session.info.get(_BATCH)
    if batch is None:
        append_audit(session, **row)
    else:
        batch.audit(**row)


def _hold_notices(session: Session, settings: Settings, notices: list[Notification]) -> None:
    """Keep notifications for the hook until the session's transaction commits, whoever
    commits it (a command of its own, a batch, ingest): the hook must not tell of a change
    that is not there yet, nor of one a rollback undid, savepoints included."""
    if not notices:
        return
    held: list[_Held] | None = session.info.get(_HELD_NOTICES)
    if held is None:
        held = session.info[_HELD_NOTICES] = []
        event.listen(session, "after_commit", _announce_held)
        event.listen(session, "after_soft_rollback", _drop_held)
    made_in = session.get_nested_transaction() or session.get_transaction()
    assert made_in is not None, "commands run inside a transaction"
    held.extend((made_in, settings, notice) for notice in notices)


def _announce_held(session: Session) -> None:
    """After the outermost commit (a released savepoint commits too): run the hook."""
    if session.in_nested_transaction():
        return
    held: list[_Held] = session.info[_HELD_NOTICES]
    told, held[:] = list(held), []
    for _, settings, notice in told:
        announce(settings, [notice])


def _drop_held(session: Session, rolled_back: SessionTransaction) -> None:
    """Forget what was made in a transaction or savepoint that rolled back, or inside it."""

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is rolled_back:
                return True
            transaction = transaction.parent
        return False

    held: list[_Held] = session.info[_HELD_NOTICES]
    held[:] = [entry for entry in held if not inside(entry[0])]


@dataclass
class Command:
    """What a command body works on, and what it adds to the record."""

    session: Session
    ticket: Ticket
    queue: Queue
    at: datetime
    actor: str
    name: str
    target: Stage
    detail: dict[str, Any] = field(default_factory=dict)
    unchanged: bool = False  # set by a body that found nothing to do: no version, no audit
    notices: list[Notification] = field(default_factory=list)

    def timeline(
        self,
        kind: TimelineKind,
        body: str | Message = "",
        *,
        event_id: str | None = None,
        **data: Any,
    ) -> None:
        """Add an entry: system text as a Message (kept in `data["say"]`, shown in the desk's
        language), customer and agent text as a plain string. Its digest goes into the
        command's audit row, which thereby covers it."""
        if isinstance(body, Message):
            data["say"] = body.stored()
        row = {
            "ticket_id": self.ticket.id,
            "at": self.at,
            "actor": self.actor,
            "kind": str(kind),
            "body": str(body),
            "event_id": event_id,
            "data": data,
        }
        digest = timeline_row_digest(chain_key(self.session), row)
        self.detail.setdefault("timeline", []).append(digest)
        self.session.add(TimelineEntry(**row))

    def notify(self, logins: list[str | None], kind: str, message: Message) -> None:
        """Tell these agents (unknown or empty logins are skipped), once each."""
        body = f"{ticket_ref(self.ticket.id or 0)} {message}"
        for login in dict.fromkeys(filter(None, logins)):
            if _row(self.session, Agent, login) is None:
                continue
            notice = Notification(
                login=login,
                at=self.at,
                kind=kind,
                ticket_id=self.ticket.id,
                body=body,
                said=message.stored(),
            )
            self.session.add(notice)
            self.notices.append(notice)


@dataclass
class Batch:
    """One write transaction shared by many tickets' commands, each given its `session`.

    It keeps what every command would otherwise read again: the queues, teams and agents
    looked up (the session's identity map holds rows only weakly, so they would be gone by the
    next ticket), and the end of the audit chain, which only this transaction can append to
    while it holds the write lock (SQLite) or the chain's lock (PostgreSQL)."""

    session: Session
    rows: dict[tuple[type[Any], Any], Any] = field(default_factory=dict)
    chain: AuditChain | None = None

    def attempt(self, command: Callable[[Session], T]) -> T | None:
        """Run one ticket's command in a savepoint: when the ticket closed or moved on since
        it was picked (WorkflowError), only its own changes are undone, and None is returned.
        A ticket no command can work with (UnusableTicket) is undone the same way, and the
        error raised for the caller to count it and go on."""
        chain, last = self.chain, self.chain.last if self.chain else ""
        try:
            with self.session.begin_nested():
                return command(self.session)
        except WorkflowError as exc:
            self.chain = chain  # its audit rows are undone: the chain ends where it did
            if chain is not None:
                chain.last = last
            if isinstance(exc, UnusableTicket):
                raise
            return None

    def audit(self, **row: Any) -> None:
        """Append one audit row to the chain, whose end is read once per batch."""
        if self.chain is None:
            self.session.flush()  # as append_audit does before it reads the chain's end
            self.chain = AuditChain(self.session)
        self.chain.add(**row)
        self.chain.write()


class TicketService:
    """Ticket commands on behalf of one actor (a login, or `cxdesk` for automation)."""

    def __init__(self, db: Database, settings: Settings, actor: str = SYSTEM_ACTOR) -> None:
        self.db = db
        self.settings = settings
        self.actor = actor
        self.planner = SlaPlanner(settings)
        self._who: Actor | None = None

    def who(self, session: Session) -> Actor:
        """The acting agent's role and teams, read once."""
        if self._who is None:
            self._who = load_actor(session, self.actor, self.settings)
        return self._who

    @contextmanager
    def batch(self, tickets: Iterable[int]) -> Iterator[Batch]:
        """A write transaction for commands on these tickets: one commit (on SQLite, one taking
        of the write lock) instead of one per ticket; their notifications reach the hook
        once it commits.

        On PostgreSQL the tickets' rows are locked first, in id order: from its first command
        to its commit the batch holds the audit chain's lock, which a single command takes
        after its ticket's row, so a row taken after that lock could deadlock with one."""
        ids = sorted(set(tickets))
        with self.db.write() as session:
            if ids and not self.db.is_sqlite:
                session.exec(
                    select(Ticket.id)
                    .where(col(Ticket.id).in_(ids))
                    .order_by(col(Ticket.id))
                    .with_for_update()
                ).all()
            batch = session.info[_BATCH] = Batch(session)
            try:
                yield batch
            finally:
                del session.info[_BATCH]

    # -- opening -----------------------------------------------------------------------

    def open_ticket(
        self,
        session: Session,
        *,
        kind: TicketKind,
        queue_id: str,
        priority: str,
        title: str,
        at: datetime,
        customer_id: str | None = None,
        rule: str | None = None,
        event_id: str | None = None,
        tags: list[str] | None = None,
        evidence: tuple[str, dict[str, Any]] | None = None,
    ) -> Ticket:
        """Open a ticket inside the caller's transaction (ingest batches many per commit);
        `evidence` (text, data) is a second alert entry, what a metric alert saw."""
        queue = self._queue(session, queue_id)
        self.who(session).authorize("open", queue.team_id, "a new ticket")
        ticket = Ticket(
            kind=kind,
            stage=Stage.NEW,
            priority=Priority(priority),
            queue_id=queue.id,
            customer_id=customer_id,
            rule=rule,
            title=clean_text(title)[:500],
            tags=list(tags or []),
            opened_at=at,
            updated_at=at,
        )
        self.planner.start_clocks(ticket, queue, at)
        ticket.assignee = Assigner(session).pick(queue, priority=ticket.priority)
        session.add(ticket)
        session.flush()
        assert ticket.id is not None
        command = Command(session, ticket, queue, at, self.actor, "open", Stage.NEW)
        command.timeline(
            TimelineKind.ALERT if rule else TimelineKind.TRANSITION,
            opening_note(queue.id, ticket.priority, rule),
            event_id=event_id,
            rule=rule,
        )
        if ticket.assignee is not None:
            command.timeline(
                TimelineKind.ASSIGNMENT,
                assignment_note(ticket.assignee, queue.assignment),
                assignee=ticket.assignee,
                mode=queue.assignment,
            )
        if evidence is not None:
            command.timeline(TimelineKind.ALERT, evidence[0], **evidence[1])
        if event_id is not None:
            session.get_one(FeedbackEvent, event_id).ticket_id = ticket.id
        _audit(
            session,
            at=at,
            actor=self.actor,
            action="open",
            ticket_id=ticket.id,
            detail={
                "queue": queue.id,
                "priority": ticket.priority,
                "rule": rule,
                "assignee": ticket.assignee,
                "state": ticket_state(Stage.NEW, ticket.assignee, ticket.priority, 0, queue.id),
                **command.detail,
            },
        )
        return ticket

    def attach_alert(
        self,
        session: Session,
        ticket_id: int,
        *,
        priority: str,
        rule: str,
        event_id: str,
        at: datetime,
    ) -> Ticket:
        """Put another alerting event on an open case: priority raised if higher; a case
        waiting for verification goes back to analyze."""
        with self._command("attach", ticket_id, None, at, session) as cmd:
            ticket = cmd.ticket
            raised_from = None
            if Priority(priority) < Priority(ticket.priority):  # "P1" < "P2": more urgent
                raised_from = ticket.priority
                cmd.detail.update(priority_from=ticket.priority, priority_to=priority)
                ticket.priority = priority
                self.planner.start_clocks(ticket, cmd.queue, ticket.reopened_at or ticket.opened_at)
            body = alert_note(rule, priority, raised_from)
            cmd.timeline(TimelineKind.ALERT, body, event_id=event_id, rule=rule)
            session.get_one(FeedbackEvent, event_id).ticket_id = ticket_id
            if ticket.stage == Stage.VERIFY:
                self._reopen(
                    cmd,
                    say("new alert while verifying: reopened"),
                    kind=TimelineKind.ALERT,
                    event_id=event_id,
                )
        return cmd.ticket

    # -- commands ------------------------------------------------------------------------

    def claim(
        self, ticket_id: int, *, version: int | None = None, at: datetime | None = None
    ) -> Ticket:
        with self._command("claim", ticket_id, version, at) as cmd:
            self._take(cmd)
        return cmd.ticket

    def claim_next(self, *, queue: str | None = None, at: datetime | None = None) -> Ticket:
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
        with self.db.session() as session:
            who = self.who(session)
            if who.is_system:
                raise WorkflowError("claim-next takes a ticket for an agent, not for automation")
            if queue is not None:
                team = self._queue(session, queue).team_id
                who.authorize("claim", team, f"queue {queue}")
                scope: tuple[str, ...] | None = (queue,)
            else:
                scope = visible_queues(session, who)
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
        with self.db.session() as session:
            candidates = [(row[0], row[1]) for row in session.exec(pick).all()]
        ticket = self._claim_first(candidates, pick, at) if candidates else None
        if ticket is None:
            where = f"queue {queue}" if queue else "the queues you work"
            if queue is None and scope is not None:
                where += f" ({', '.join(scope) or 'none'})"
            raise WorkflowError(f"nothing to claim: no unassigned open case in {where}")
        return ticket

    def _claim_first(
        self, candidates: list[tuple[int, int]], pick: Select, at: datetime | None
    ) -> Ticket | None:
        """Claim the first of `candidates` (id, version as read) that nobody changed or holds
        since. When others took them all meanwhile, pick again inside the transaction (under
        the write lock on SQLite, passing over rows others hold on PostgreSQL), so a claim
        fails only when no claimable case is left: None."""
        with self.db.write() as session:
            chosen = next((c for c in candidates if self._still_free(session, *c)), None)
            if chosen is None:
                row = session.exec(pick.limit(1).with_for_update(skip_locked=True)).first()
                if row is None:
                    return None
                chosen = (row[0], row[1])
            with self._command("claim", chosen[0], chosen[1], at, session) as cmd:
                self._take(cmd)
            return cmd.ticket

    @staticmethod
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

    def _take(self, cmd: Command) -> None:
        """The claim itself: the ticket becomes the actor's, on its timeline."""
        ref = ticket_ref(cmd.ticket.id or 0)
        if cmd.ticket.assignee == self.actor:
            raise WorkflowError(f"{ref} is already yours")
        if cmd.ticket.assignee is not None:
            raise WorkflowError(f"{ref} is already assigned to {cmd.ticket.assignee}")
        cmd.ticket.assignee = self.actor
        cmd.timeline(
            TimelineKind.ASSIGNMENT,
            say("claimed by {actor}", actor=self.actor),
            assignee=self.actor,
        )

    def assign(
        self, ticket_id: int, login: str, *, version: int | None = None, at: datetime | None = None
    ):
        with self._command("assign", ticket_id, version, at) as cmd:
            agent = cmd.session.get(Agent, login)
            if agent is None or not agent.active:
                raise NotFound(f"no active agent with login {login!r}")
            if cmd.session.get(AgentTeam, (login, cmd.queue.team_id)) is None:
                raise WorkflowError(
                    f"{login} is not in team {cmd.queue.team_id}, which owns {cmd.queue.id}"
                )
            if login == cmd.ticket.assignee:
                raise WorkflowError(f"{ticket_ref(ticket_id)} is already assigned to {login}")
            previous = cmd.ticket.assignee
            cmd.ticket.assignee = login
            cmd.detail["from"] = previous
            cmd.timeline(
                TimelineKind.ASSIGNMENT,
                say("assigned to {login} (was {previous})", login=login, previous=previous)
                if previous
                else say("assigned to {login}", login=login),
                assignee=login,
            )
        return cmd.ticket

    def respond(
        self, ticket_id: int, body: str, *, version: int | None = None, at: datetime | None = None
    ):
        """Reply to the customer; the first reply stops the first-response clock."""
        with self._command("respond", ticket_id, version, at) as cmd:
            text = self._required_text(body, "response")
            first = cmd.ticket.first_response_at is None
            if first:
                cmd.ticket.first_response_at = cmd.at
            cmd.timeline(TimelineKind.RESPONSE, text, first_response=first)
        return cmd.ticket

    def note(
        self, ticket_id: int, body: str, *, version: int | None = None, at: datetime | None = None
    ):
        with self._command("note", ticket_id, version, at) as cmd:
            cmd.timeline(TimelineKind.NOTE, self._required_text(body, "note"))
        return cmd.ticket

    def pend(
        self, ticket_id: int, reason: str, *, version: int | None = None, at: datetime | None = None
    ):
        """Wait on the customer or a third party; the SLA clock stops."""
        with self._command("pend", ticket_id, version, at) as cmd:
            cmd.ticket.paused_at = cmd.at
            cmd.ticket.paused_from = cmd.ticket.stage
            reason = self._required_text(reason, "reason")
            cmd.timeline(TimelineKind.NOTE, say("pending: {reason}", reason=reason))
        return cmd.ticket

    def resume(self, ticket_id: int, *, version: int | None = None, at: datetime | None = None):
        with self._command("resume", ticket_id, version, at) as cmd:
            ticket = cmd.ticket
            cmd.target = resume_stage(ticket.paused_from or Stage.COLLECT, ticket_ref(ticket_id))
            paused_at = ticket.paused_at or cmd.at
            ticket.stage = cmd.target  # the clocks below read the stage
            ticket.paused_at = ticket.paused_from = None
            self.planner.resume_clocks(ticket, cmd.queue, paused_at, cmd.at)
        return cmd.ticket

    def analyze(
        self,
        ticket_id: int,
        *,
        root_cause: str,
        driver: str,
        touchpoint: str | None = None,
        version: int | None = None,
        at: datetime | None = None,
    ):
        """Code the root cause; the ticket moves on to fix."""
        with self._command("analyze", ticket_id, version, at) as cmd:
            cmd.ticket.root_cause = self._required_text(root_cause, "root cause")
            cmd.ticket.driver = self._required_text(driver, "driver")
            if touchpoint:
                cmd.ticket.touchpoint = clean_text(touchpoint)
            cmd.timeline(
                TimelineKind.NOTE,
                say(
                    "root cause ({driver}): {root_cause}",
                    driver=cmd.ticket.driver,
                    root_cause=cmd.ticket.root_cause,
                ),
            )
        return cmd.ticket

    def resolve(
        self,
        ticket_id: int,
        *,
        code: str,
        root_cause: str,
        action: str,
        remedy: str | None = None,
        version: int | None = None,
        at: datetime | None = None,
    ):
        """Record the resolution, stop the resolution clock, schedule the follow-up survey."""
        with self._command("resolve", ticket_id, version, at) as cmd:
            ticket = cmd.ticket
            ticket.resolution_code = self._required_text(code, "resolution code")
            ticket.root_cause = self._required_text(root_cause, "root cause")
            ticket.action_taken = self._required_text(action, "action taken")
            ticket.customer_remedy = clean_text(remedy) if remedy else None
            ticket.resolved_at = cmd.at
            cmd.timeline(
                TimelineKind.NOTE,
                say(
                    "resolved ({code}): {action}",
                    code=ticket.resolution_code,
                    action=ticket.action_taken,
                ),
            )
            if ticket.kind == TicketKind.CASE:
                cmd.session.add(
                    FollowUp(
                        ticket_id=ticket_id,
                        send_at=cmd.at,
                        expires_at=cmd.at + self.settings.verify.window,
                    )
                )
        return cmd.ticket

    def escalate(
        self, ticket_id: int, reason: str, *, version: int | None = None, at: datetime | None = None
    ):
        """One level up the ladder: 1 team supervisor, 2 CX manager."""
        with self._command("escalate", ticket_id, version, at) as cmd:
            ticket = cmd.ticket
            if ticket.escalation_level >= MAX_ESCALATION:
                raise WorkflowError(f"{ticket_ref(ticket_id)} is already at the top of the ladder")
            ticket.escalation_level += 1
            target = self._escalation_target(cmd.session, cmd.queue, ticket.escalation_level)
            body = say(
                "escalated to level {level} ({target}): {reason}",
                level=ticket.escalation_level,
                target=target,
                reason=self._required_text(reason, "reason"),
            )
            cmd.timeline(
                TimelineKind.ESCALATION, body, level=ticket.escalation_level, target=target
            )
            cmd.notify(
                self._escalation_logins(cmd.session, cmd.queue, ticket.escalation_level),
                "escalation",
                body,
            )
        return cmd.ticket

    def deescalate(
        self,
        ticket_id: int,
        reason: str,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ):
        """One level down the ladder, with the reason (supervisors)."""
        with self._command("deescalate", ticket_id, version, at) as cmd:
            ticket = cmd.ticket
            if ticket.escalation_level == 0:
                raise WorkflowError(f"{ticket_ref(ticket_id)} is not escalated")
            ticket.escalation_level -= 1
            cmd.timeline(
                TimelineKind.ESCALATION,
                say(
                    "de-escalated to level {level}: {reason}",
                    level=ticket.escalation_level,
                    reason=self._required_text(reason, "reason"),
                ),
                level=ticket.escalation_level,
            )
        return cmd.ticket

    def merge(
        self,
        source_id: int,
        into_id: int,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ):
        """Fold a duplicate case into another case of the same customer: its events move over,
        the target keeps the higher priority, the source closes as merged."""
        if source_id == into_id:
            raise WorkflowError("a ticket cannot be merged into itself")
        with self._command("merge", into_id, None, at) as target_cmd:
            target = target_cmd.ticket
            with self._command("merge", source_id, version, at, target_cmd.session) as cmd:
                source = cmd.ticket
                if TicketKind.CASE not in (source.kind, target.kind) or source.kind != target.kind:
                    raise WorkflowError("only two cases can be merged")
                if cmd.queue.team_id != target_cmd.queue.team_id:
                    raise WorkflowError(
                        f"{ticket_ref(source_id)} and {ticket_ref(into_id)} are worked by "
                        "different teams; only cases of one team merge"
                    )
                if source.customer_id != target.customer_id:
                    raise WorkflowError(
                        f"{ticket_ref(source_id)} and {ticket_ref(into_id)} belong to different "
                        "customers; only cases of one customer merge"
                    )
                if target.stage == Stage.CLOSED:
                    raise WorkflowError(f"{ticket_ref(into_id)} is closed; merge into an open case")
                for event in cmd.session.exec(
                    select(FeedbackEvent).where(FeedbackEvent.ticket_id == source_id)
                ):
                    event.ticket_id = into_id
                if is_more_urgent(source.priority, target.priority):
                    target.priority = source.priority
                    self.planner.start_clocks(
                        target, target_cmd.queue, target.reopened_at or target.opened_at
                    )
                source.closed_at = cmd.at
                source.verify_outcome = VerifyOutcome.MERGED
                cmd.target = Stage.CLOSED
                cmd.timeline(
                    TimelineKind.LINK,
                    say("merged into {ref}", ref=ticket_ref(into_id)),
                    into=into_id,
                )
            target_cmd.timeline(
                TimelineKind.LINK,
                say("merged {ref} into this case", ref=ticket_ref(source_id)),
                source=source_id,
            )
        return target_cmd.ticket

    def record_followup_answer(
        self,
        ticket_id: int,
        event: FeedbackEvent,
        at: datetime | None = None,
        session: Session | None = None,
    ):
        """In verify, a good answer closes the ticket verified and a bad one reopens it, raised
        and escalated; in any other stage the answer is put on the timeline and nothing moves."""
        verify = self.settings.verify
        good = (event.nps is not None and event.nps >= verify.nps_success) or (
            event.csat is not None and event.csat >= verify.csat_success
        )
        score = f"NPS {event.nps}" if event.nps is not None else f"CSAT {event.csat}"
        with self._unit(session) as unit:
            stage = unit.exec(select(Ticket.stage).where(Ticket.id == ticket_id)).first()
            if stage is None:
                raise NotFound(f"no ticket {ticket_ref(ticket_id)}")
            if stage != Stage.VERIFY:
                with self._command("note", ticket_id, None, at, unit) as cmd:
                    cmd.timeline(
                        TimelineKind.FOLLOWUP,
                        say("follow-up answered {score} while {stage}", score=score, stage=stage),
                        event_id=event.event_id,
                    )
                return cmd.ticket
            command = "verify" if good else "reopen"
            with self._command(command, ticket_id, None, at, unit) as cmd:
                ticket = cmd.ticket
                followup = cmd.session.exec(
                    select(FollowUp).where(
                        FollowUp.ticket_id == ticket_id,
                        col(FollowUp.status).in_([FollowUpStatus.SCHEDULED, FollowUpStatus.SENT]),
                    )
                ).first()
                if followup is not None:
                    followup.status = FollowUpStatus.ANSWERED
                    followup.answered_at = cmd.at
                    followup.answer_event_id = event.event_id
                if good:
                    ticket.verify_outcome = VerifyOutcome.VERIFIED
                    ticket.closed_at = cmd.at
                    cmd.timeline(
                        TimelineKind.FOLLOWUP,
                        say("follow-up answered {score}: verified", score=score),
                        event_id=event.event_id,
                    )
                else:  # failed: reopened one priority step up and one escalation level up
                    ticket.priority = raise_priority(ticket.priority)
                    ticket.escalation_level = min(ticket.escalation_level + 1, MAX_ESCALATION)
                    self._reopen(
                        cmd,
                        say(
                            "follow-up answered {score}: reopened; priority {priority}, "
                            "escalation level {level}",
                            score=score,
                            priority=ticket.priority,
                            level=ticket.escalation_level,
                        ),
                        kind=TimelineKind.FOLLOWUP,
                        event_id=event.event_id,
                    )
            return cmd.ticket

    def expire_followup(
        self, ticket_id: int, at: datetime | None = None, session: Session | None = None
    ):
        """No answer within the verify window: closed, counted as unverified."""
        with self._command("expire", ticket_id, None, at, session) as cmd:
            for followup in cmd.session.exec(
                select(FollowUp).where(
                    FollowUp.ticket_id == ticket_id,
                    col(FollowUp.status).in_([FollowUpStatus.SCHEDULED, FollowUpStatus.SENT]),
                )
            ):
                followup.status = FollowUpStatus.EXPIRED
            cmd.ticket.verify_outcome = VerifyOutcome.UNVERIFIED
            cmd.ticket.closed_at = cmd.at
            cmd.timeline(
                TimelineKind.FOLLOWUP,
                say("no follow-up answer in the verify window: closed unverified"),
            )
        return cmd.ticket

    def mark_at_risk(self, ticket_id: int, now: datetime, session: Session | None = None) -> bool:
        """Note once per running clock that it has passed its at-risk mark."""
        with self._command("sla", ticket_id, None, now, session) as cmd:
            t = cmd.ticket
            due = t.sla_due
            risky = due is not None and t.sla_risk_at is not None and t.sla_risk_at <= now < due
            if not risky or t.risk_notified_for == due:
                cmd.unchanged = True
            else:
                t.risk_notified_for = due
                clock = "first response" if t.first_response_at is None else "resolution"
                local_due = local_text(due, self.settings.timezone)
                note = (
                    say("first response SLA at risk: due {due}", due=local_due)
                    if clock == "first response"
                    else say("resolution SLA at risk: due {due}", due=local_due)
                )
                cmd.timeline(TimelineKind.ESCALATION, note, clock=clock, due=due.isoformat())
                cmd.notify([t.assignee], "at_risk", note)
        return not cmd.unchanged

    def escalate_breach(
        self, ticket_id: int, now: datetime, session: Session | None = None
    ) -> bool:
        """Escalate a breached clock once: first response → level 1, resolution → level 2."""
        with self._command("sla", ticket_id, None, now, session) as cmd:
            t = cmd.ticket
            if (
                t.first_response_at is None
                and t.first_response_breached_at is None
                and t.first_response_due is not None
                and t.first_response_due < now
            ):
                clock, level = "first response", 1
                t.first_response_breached_at = now
            elif (
                t.first_response_at is not None
                and t.resolution_breached_at is None
                and t.resolved_at is None
                and t.resolution_due is not None
                and t.resolution_due < now
                and t.stage != Stage.PENDING
            ):
                clock, level = "resolution", 2
                t.resolution_breached_at = now
            else:
                cmd.unchanged = True
                return False
            cmd.detail.update(clock=clock)
            if t.escalation_level >= level:
                already = (
                    say(
                        "first response SLA breached; already at escalation level {level}",
                        level=t.escalation_level,
                    )
                    if clock == "first response"
                    else say(
                        "resolution SLA breached; already at escalation level {level}",
                        level=t.escalation_level,
                    )
                )
                cmd.timeline(TimelineKind.ESCALATION, already, clock=clock)
                return True
            t.escalation_level = level
            target = self._escalation_target(cmd.session, cmd.queue, level)
            escalated = (
                say(
                    "first response SLA breached: escalated to level {level} ({target})",
                    level=level,
                    target=target,
                )
                if clock == "first response"
                else say(
                    "resolution SLA breached: escalated to level {level} ({target})",
                    level=level,
                    target=target,
                )
            )
            cmd.timeline(
                TimelineKind.ESCALATION, escalated, level=level, target=target, clock=clock
            )
            cmd.notify(
                [*self._escalation_logins(cmd.session, cmd.queue, level), t.assignee],
                "breach",
                escalated,
            )
        return True

    def reopen(
        self, ticket_id: int, reason: str, *, version: int | None = None, at: datetime | None = None
    ):
        with self._command("reopen", ticket_id, version, at) as cmd:
            self._reopen(
                cmd,
                say("reopened: {reason}", reason=self._required_text(reason, "reason")),
                kind=TimelineKind.NOTE,
            )
        return cmd.ticket

    def link(
        self,
        case_id: int,
        problem_id: int,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ):
        """Attach a case to the problem ticket that explains it."""
        with self._command("link", case_id, version, at) as cmd:
            problem = cmd.session.get(Ticket, problem_id)
            visible = problem is not None and self.who(cmd.session).in_scope(
                self._queue(cmd.session, problem.queue_id).team_id
            )
            if problem is None or not visible or problem.kind != TicketKind.PROBLEM:
                raise NotFound(f"{ticket_ref(problem_id)} is not a problem ticket")
            if problem.stage == Stage.CLOSED:
                raise WorkflowError(
                    f"{ticket_ref(problem_id)} is closed; link to a problem that is still open"
                )
            if cmd.ticket.kind != TicketKind.CASE:
                raise WorkflowError(f"{ticket_ref(case_id)} is not a case; only cases link")
            if cmd.session.get(TicketLink, (case_id, problem_id)) is None:
                cmd.session.add(
                    TicketLink(
                        case_id=case_id,
                        problem_id=problem_id,
                        linked_at=cmd.at,
                        linked_by=self.actor,
                    )
                )
            cmd.timeline(
                TimelineKind.LINK,
                say("linked to problem {ref}", ref=ticket_ref(problem_id)),
                problem=problem_id,
            )
        return cmd.ticket

    def close_problem(
        self,
        ticket_id: int,
        evidence: str,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ):
        """Close a problem ticket once the metric has recovered, with the evidence."""
        with self._command("close", ticket_id, version, at) as cmd:
            if cmd.ticket.kind != TicketKind.PROBLEM:
                raise WorkflowError(
                    f"{ticket_ref(ticket_id)} is a case; cases close by follow-up verification"
                )
            cmd.ticket.verify_outcome = VerifyOutcome.VERIFIED
            cmd.ticket.closed_at = cmd.at
            cmd.timeline(
                TimelineKind.NOTE,
                say(
                    "closed, verified: {evidence}",
                    evidence=self._required_text(evidence, "evidence"),
                ),
            )
        return cmd.ticket

    # -- machinery -----------------------------------------------------------------------

    @contextmanager
    def _command(
        self,
        name: str,
        ticket_id: int,
        version: int | None,
        at: datetime | None,
        session: Session | None = None,
    ) -> Iterator[Command]:
        """Run a command in `session` (the caller's batch) or in a write transaction of its own;
        its notifications reach the hook when whichever transaction it ran in commits.

        A ticket whose stored values no command can work with (a queue that is gone, a
        priority or stage this version does not know, a due time the calendar cannot count
        from) is refused with an UnusableTicket naming it and the value."""
        with self._unit(session) as unit:
            ticket = unit.exec(
                select(Ticket)
                .where(Ticket.id == ticket_id)
                .with_for_update()
                .execution_options(populate_existing=True)  # never act on a stale copy
            ).first()
            ref = ticket_ref(ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket {ref}")
            queue = _row(unit, Queue, ticket.queue_id)
            who = self.who(unit)
            if queue is None:  # no team to be in: only those who see every team see it
                if not who.sees_all_teams:
                    raise NotFound(f"no ticket {ref}")
                raise UnusableTicket(
                    f"{ref} is in a queue that no longer exists: {ticket.queue_id!r}"
                )
            who.see(queue.team_id, ref)  # before any answer that would tell it exists
            who.authorize(name, queue.team_id, ref)
            if version is not None and ticket.version != version:
                raise self._stale(unit, ticket)
            target = next_stage(name, ticket.stage, ref)
            if ticket.priority not in KNOWN_PRIORITIES:
                raise UnusableTicket(f"{ref} has an unknown priority {ticket.priority!r}")
            command = Command(unit, ticket, queue, at or utcnow(), self.actor, name, target)
            try:
                yield command
                if not command.unchanged:
                    self._finish(command)
            except Unmeasurable as exc:
                raise UnusableTicket(f"{ref}: {exc}") from None
            _hold_notices(unit, self.settings, command.notices)

    @contextmanager
    def _unit(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
        else:
            with self.db.write() as own:
                yield own

    def _finish(self, cmd: Command) -> None:
        ticket = cmd.ticket
        if cmd.target != ticket.stage or cmd.name == "resume":
            before = ticket.paused_from if cmd.name == "resume" else ticket.stage
            cmd.timeline(
                TimelineKind.TRANSITION,
                f"{before} → {cmd.target}",
                stage_from=before,
                stage_to=cmd.target.value,
            )
            cmd.detail.update(stage_from=before, stage_to=cmd.target.value)
            ticket.stage = cmd.target
        self.planner.refresh_running_clock(ticket, cmd.queue)
        ticket.version += 1
        ticket.updated_at = cmd.at
        cmd.session.add(ticket)
        cmd.detail["state"] = ticket_state(
            ticket.stage, ticket.assignee, ticket.priority, ticket.escalation_level, ticket.queue_id
        )
        _audit(
            cmd.session,
            at=cmd.at,
            actor=cmd.actor,
            action=cmd.name,
            ticket_id=ticket.id,
            detail=cmd.detail,
        )

    def _reopen(
        self,
        cmd: Command,
        body: Message,
        *,
        kind: TimelineKind,
        event_id: str | None = None,
    ) -> None:
        """Back to analyze with a new resolution clock."""
        ticket = cmd.ticket
        ticket.reopen_count += 1
        ticket.reopened_at = cmd.at
        ticket.paused_seconds = 0  # a new resolution clock, not yet breached
        ticket.resolution_breached_at = None
        ticket.resolved_at = ticket.closed_at = ticket.verify_outcome = None
        ticket.stage = Stage.ANALYZE  # the clocks below read the stage
        self.planner.start_clocks(ticket, cmd.queue, cmd.at)
        cmd.target = Stage.ANALYZE
        cmd.timeline(kind, body, event_id=event_id)

    def _stale(self, session: Session, ticket: Ticket) -> StaleVersion:
        last = session.exec(
            select(AuditEntry)
            .where(AuditEntry.ticket_id == ticket.id)
            .order_by(col(AuditEntry.id).desc())
            .limit(1)
        ).first()
        who = last.actor if last else "someone"
        agent = session.get(Agent, who)
        name = agent.display_name if agent else who
        when = (last.at if last else ticket.updated_at).astimezone(ZoneInfo(self.settings.timezone))
        return StaleVersion(
            f"{ticket_ref(ticket.id or 0)} was changed by {name} at {when:%Y-%m-%d %H:%M} — reload"
        )

    def _escalation_logins(self, session: Session, queue: Queue, level: int) -> list[str]:
        """Who is told of an escalation to `level`: the team supervisor, or the CX managers."""
        if level == 1:
            team = _row(session, Team, queue.team_id)
            return [team.supervisor] if team and team.supervisor else []
        return list(self.settings.cx_managers)

    def _escalation_target(self, session: Session, queue: Queue, level: int) -> str:
        if level == 1:
            team = _row(session, Team, queue.team_id)
            return team.supervisor if team and team.supervisor else f"{queue.team_id} supervisor"
        return ", ".join(self.settings.cx_managers) or "CX manager"

    @staticmethod
    def _queue(session: Session, queue_id: str) -> Queue:
        queue = _row(session, Queue, queue_id)
        if queue is None:
            raise NotFound(f"no queue {queue_id!r}")
        return queue

    @staticmethod
    def _required_text(value: str | None, what: str) -> str:
        text = clean_text(value or "").strip()
        if not text:
            raise WorkflowError(f"{what} is required")
        return text
