"""The unit of work every ticket command runs in: the ticket loaded under a write lock,
the caller's version checked, scope, role and stage checked, then (after the handler's change)
the stage moved, the clocks refreshed, the version bumped, the timeline entries written and
covered by one audit row, the events it made put in the webhook outbox (`ticket_events`), and
notifications held until the transaction commits.

It runs in a transaction of its own or in its caller's (ingest; the sweep's batches, one
savepoint a ticket).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.db import Database, DriverRead, insert_rows
from cxdesk.errors import NotFound, StaleVersion, UnusableTicket, WorkflowError
from cxdesk.i18n import Message, say
from cxdesk.models import (
    Agent,
    AuditEntry,
    Notification,
    Queue,
    Stage,
    Team,
    Ticket,
    TimelineEntry,
    TimelineKind,
)
from cxdesk.models.base import table_of
from cxdesk.workflow.access.permissions import SYSTEM_LOGIN, Actor, load_actor
from cxdesk.workflow.audit.chain import (
    append_audit,
    chain_key,
    ticket_state,
    timeline_row_digest,
)
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.text import clean_text
from cxdesk.workflow.clocks.calendar import Unmeasurable
from cxdesk.workflow.clocks.sla import KNOWN_PRIORITIES, SlaPlanner
from cxdesk.workflow.loop.batch import cached_row
from cxdesk.workflow.loop.commands import TicketCommand
from cxdesk.workflow.loop.notifications import hold_notices
from cxdesk.workflow.loop.stages import next_stage
from cxdesk.workflow.loop.ticket_events import Before, Outbox, TicketFacts, changes
from cxdesk.workflow.loop.ticket_rows import load_ticket, write_changes

SYSTEM_ACTOR = SYSTEM_LOGIN
MAX_TEXT = 20_000  # characters of one note, reply or reason
_TIMELINE = table_of(TimelineEntry)
_NOTIFICATIONS = table_of(Notification)
_AGENT = DriverRead(select(Agent.login).where(Agent.login == bindparam("login")))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Acting:
    """Who acts (a login, or `cxdesk` for automation), with which settings, on which
    database: what every handler is given."""

    def __init__(self, db: Database, settings: Settings, actor: str = SYSTEM_ACTOR) -> None:
        self.db = db
        self.settings = settings
        self.actor = actor
        self.planner = SlaPlanner(settings)
        self.outbox = Outbox(settings)
        self._who: Actor | None = None
        self._queues: dict[str, Queue] = {}

    def who(self, session: Session) -> Actor:
        """The acting agent's role and teams, read once."""
        if self._who is None:
            self._who = load_actor(session, self.actor, self.settings)
        return self._who

    def queue(self, session: Session, queue_id: str) -> Queue | None:
        """A queue, read once (as ingest reads them once a run): queues change only when the
        configuration, which this process has read once too, is synced into the database.
        A queue that is not there is looked for again."""
        queue = self._queues.get(queue_id)
        if queue is None:
            stored = cached_row(session, Queue, queue_id)
            if stored is None:
                return None
            # A copy in no session: a rollback of the one it was read in cannot expire it.
            queue = self._queues[queue_id] = Queue(**stored.model_dump())
        return queue


class Entry(NamedTuple):
    """A timeline entry's contents; whose, when and by whom come from the command."""

    kind: str
    body: str
    event_id: str | None
    data: dict[str, Any]

    def row(self, ticket_id: Any, at: datetime, actor: str) -> dict[str, Any]:
        """The entry as a timeline row (for ingest, `ticket_id` may be a case whose number
        the batch has yet to allocate)."""
        return {
            "ticket_id": ticket_id,
            "at": at,
            "actor": actor,
            "kind": self.kind,
            "body": self.body,
            "event_id": self.event_id,
            "data": self.data,
        }


@dataclass
class Work:
    """What a handler works on, and what it adds to the record."""

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
    before: Before = field(init=False)  # the ticket as found, for the events it made

    def __post_init__(self) -> None:
        self.before = Before.of(self.ticket)

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
        self.add_entry(Entry(str(kind), str(body), event_id, data))

    def add_entry(self, entry: Entry) -> None:
        """Add an entry made ahead (see `opening.opening_record`), covered the same way."""
        ticket_id = self.ticket.id
        assert ticket_id is not None, "a ticket has its number before its timeline"
        row = entry.row(ticket_id, self.at, self.actor)
        digest = timeline_row_digest(chain_key(self.session), row)
        self.detail.setdefault("timeline", []).append(digest)
        # Written as a row, as ingest writes them: nothing reads an entry back as an object,
        # and building and flushing one through the ORM cost more than the rest of the entry.
        insert_rows(self.session.connection(), _TIMELINE, [row])

    def notify(self, logins: Sequence[str | None], kind: str, message: Message) -> None:
        """Tell these agents (unknown or empty logins are skipped), once each. Written as
        rows, as the timeline is: flushing each through the ORM took half of a sweep's
        escalation; the hook is told of them from copies kept in no session."""
        body = f"{ticket_ref(self.ticket.id or 0)} {message}"
        rows: list[dict[str, Any]] = [
            {
                "login": login,
                "at": self.at,
                "kind": kind,
                "ticket_id": self.ticket.id,
                "body": body,
                "said": message.stored(),
            }
            for login in dict.fromkeys(filter(None, logins))
            if _AGENT.first(self.session.connection(), login=login) is not None
        ]
        insert_rows(self.session.connection(), _NOTIFICATIONS, rows)
        self.notices.extend(Notification(**row) for row in rows)


@contextmanager
def ticket_work(
    acting: Acting,
    name: str,
    ticket_id: int,
    version: int | None,
    at: datetime | None,
    session: Session | None = None,
) -> Iterator[Work]:
    """Run a command in `session` (the caller's batch) or in a write transaction of its own;
    its notifications reach the hook when whichever transaction it ran in commits.

    A ticket whose stored values no command can work with (a queue that is gone, a
    priority or stage this version does not know, a due time the calendar cannot count
    from) is refused with an UnusableTicket naming it and the value."""
    with own_unit(acting, session) as unit:
        ticket = load_ticket(unit, ticket_id)
        ref = ticket_ref(ticket_id)
        if ticket is None:
            raise NotFound(say("no ticket {ref}", ref=ref))
        queue = acting.queue(unit, ticket.queue_id)
        who = acting.who(unit)
        if queue is None:  # no team to be in: only those who see every team see it
            if not who.sees_all_teams:
                raise NotFound(say("no ticket {ref}", ref=ref))
            raise UnusableTicket(
                say(
                    "{ref} is in a queue that no longer exists: {queue}",
                    ref=ref,
                    queue=repr(ticket.queue_id),
                )
            )
        who.see(queue.team_id, ref)  # before any answer that would tell it exists
        who.authorize(name, queue.team_id, ref)
        if version is not None and ticket.version != version:
            raise _stale(acting, unit, ticket)
        target = next_stage(name, ticket.stage, ref)
        if ticket.priority not in KNOWN_PRIORITIES:
            raise UnusableTicket(
                say(
                    "{ref} has an unknown priority {priority}",
                    ref=ref,
                    priority=repr(ticket.priority),
                )
            )
        work = Work(unit, ticket, queue, at or utcnow(), acting.actor, name, target)
        try:
            yield work
            if not work.unchanged:
                _finish(acting, work)
        except BaseException as exc:
            unit.expire(ticket)  # a refused command's changes never reach the row
            if isinstance(exc, Unmeasurable):
                raise UnusableTicket(f"{ref}: {exc}") from None
            raise
        hold_notices(unit, acting.settings, work.notices)


def work_on(
    acting: Acting, command: TicketCommand, session: Session | None
) -> AbstractContextManager[Work]:
    """`ticket_work` for the command's own ticket, version and time."""
    return ticket_work(
        acting, command.NAME, command.ticket_id, command.version, command.at, session
    )


@contextmanager
def own_unit(acting: Acting, session: Session | None) -> Iterator[Session]:
    if session is not None:
        yield session
    else:
        with acting.db.write() as own:
            yield own


def _finish(acting: Acting, cmd: Work) -> None:
    ticket = cmd.ticket
    if cmd.target != ticket.stage or cmd.name == "resume":
        # A resume has already moved the stage on, from pending.
        before = Stage.PENDING.value if cmd.name == "resume" else ticket.stage
        cmd.timeline(
            TimelineKind.TRANSITION,
            f"{before} → {cmd.target}",
            stage_from=before,
            stage_to=cmd.target.value,
        )
        cmd.detail.update(stage_from=before, stage_to=cmd.target.value)
        ticket.stage = cmd.target
    acting.planner.refresh_running_clock(ticket, cmd.queue)
    ticket.version += 1
    ticket.updated_at = cmd.at
    write_changes(cmd.session, ticket)
    cmd.detail["state"] = ticket_state(
        ticket.stage, ticket.assignee, ticket.priority, ticket.escalation_level, ticket.queue_id
    )
    append_audit(
        cmd.session,
        at=cmd.at,
        actor=cmd.actor,
        action=cmd.name,
        ticket_id=ticket.id,
        detail=cmd.detail,
    )
    if acting.outbox.endpoints:
        acting.outbox.write(
            cmd.session.connection(),
            changes(cmd.before, ticket, cmd.name),
            TicketFacts.of(ticket, cmd.queue.team_id),
            cmd.at,
            cmd.actor,
        )


def reopen_work(
    acting: Acting,
    cmd: Work,
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
    acting.planner.start_clocks(ticket, cmd.queue, cmd.at)
    cmd.target = Stage.ANALYZE
    cmd.timeline(kind, body, event_id=event_id)


def _stale(acting: Acting, session: Session, ticket: Ticket) -> StaleVersion:
    last = session.exec(
        select(AuditEntry)
        .where(AuditEntry.ticket_id == ticket.id)
        .order_by(col(AuditEntry.id).desc())
        .limit(1)
    ).first()
    who = last.actor if last else "someone"
    agent = session.get(Agent, who)
    name = agent.display_name if agent else who
    when = (last.at if last else ticket.updated_at).astimezone(ZoneInfo(acting.settings.timezone))
    return StaleVersion(
        say(
            "{ref} was changed by {name} at {when} — reload",
            ref=ticket_ref(ticket.id or 0),
            name=name,
            when=f"{when:%Y-%m-%d %H:%M}",
        )
    )


def escalation_logins(acting: Acting, session: Session, queue: Queue, level: int) -> list[str]:
    """Who is told of an escalation to `level`: the team supervisor, or the CX managers."""
    if level == 1:
        team = cached_row(session, Team, queue.team_id)
        return [team.supervisor] if team and team.supervisor else []
    return list(acting.settings.cx_managers)


def escalation_target(acting: Acting, session: Session, queue: Queue, level: int) -> str:
    if level == 1:
        team = cached_row(session, Team, queue.team_id)
        return team.supervisor if team and team.supervisor else f"{queue.team_id} supervisor"
    return ", ".join(acting.settings.cx_managers) or "CX manager"


def queue_of(acting: Acting, session: Session, queue_id: str) -> Queue:
    queue = acting.queue(session, queue_id)
    if queue is None:
        raise NotFound(say("no queue {queue}", queue=repr(queue_id)))
    return queue


def required_text(value: str | None, what: str) -> str:
    text = optional_text(value, what)
    if not text:
        raise WorkflowError(say("{what} is required", what=what))
    return text


def optional_text(value: str | None, what: str) -> str:
    """Agent text as stored: cleaned, and no longer than a ticket screen can show at once."""
    text = clean_text(value or "").strip()
    if len(text) > MAX_TEXT:
        raise WorkflowError(
            say(
                "{what} is {length} characters long; at most {limit}",
                what=what,
                length=len(text),
                limit=MAX_TEXT,
            )
        )
    return text
