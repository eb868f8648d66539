"""A realistic demo database, built by replaying sixty days of a CX team's work.

Feedback events arrive in time order and go through the same ingest path, alert rules
and ticket commands as real work, each at its simulated time; every ticket follows a
story (claimed, answered, analysed, resolved, verified or not) that stops wherever "now"
falls, so the database ends with tickets in every stage, some at risk, some breached.

Its length is the stories (one generator per kind of ticket), which read as one script.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import WorkflowError
from cxdesk.models import FeedbackEvent, Stage, Team, Ticket, TicketKind
from cxdesk.workflow.access.identity import current_login
from cxdesk.workflow.access.org import set_meta, sync_org
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.basics.progress import Progress
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.demo.world import (
    AGENTS,
    BAD_COMMENTS,
    CHANNELS,
    DAYS,
    DRIVERS,
    ENGLISH,
    GIVEN,
    GOOD_COMMENTS,
    JOURNEYS,
    NOTES,
    PROBLEMS,
    RESPONSES,
    ROOT_CAUSES,
    SMALL_CUSTOMERS,
    SMALL_EVENTS,
    SURNAMES,
    SWEEP_EVERY,
    TOUCHPOINTS,
)
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.outcomes import Outcome
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import (
    Analyze,
    Assign,
    Claim,
    CloseProblem,
    Escalate,
    Link,
    Note,
    Pend,
    Resolve,
    Respond,
    Resume,
)
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService
from cxdesk.workflow.loop.templates import seed_templates
from cxdesk.workflow.sweep import sweep


@dataclass
class DemoReport:
    events: int = 0
    tickets: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)


Story = Iterator[tuple[timedelta, Callable[[datetime], object]]]
PROGRESS_EVERY = 25  # events replayed between two words to the progress bar


class DemoBuilder:
    """Replays the demo history into an initialised, empty database."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        seed: int,
        now: datetime,
        progress: Progress | None = None,
    ) -> None:
        self.db = db
        self.progress = progress  # told the events replayed
        self.settings = settings
        self.rng = random.Random(seed)
        self.now = now
        self.start = now - timedelta(days=DAYS)
        self.system = TicketService(db, settings, SYSTEM_ACTOR)
        self.me = current_login()
        self.services: dict[str, TicketService] = {}
        self.team_agents: dict[str, list[str]] = {}
        self._agenda: list[tuple[datetime, int, _Step]] = []
        self._owners: dict[int, tuple[TicketService, FeedbackEventIn, bool]] = {}
        self._active: set[int] = set()  # tickets with a story step on the agenda
        self._sequence = 0
        self._event_number = 0
        self._transactions: ExitStack  # the replay's, while it runs
        self._unit: ExitStack | None = None  # the replay's open transaction, if any
        self._unit_session: Session

    # -- setup ---------------------------------------------------------------------------

    def build(self, events: int = SMALL_EVENTS, customers: int = SMALL_CUSTOMERS) -> DemoReport:
        with ExitStack() as self._transactions:  # an error rolls back the open one
            return self._replay(events, customers)

    def _replay(self, events: int, customers: int) -> DemoReport:
        self.create_organisation()
        self.ingestor = Ingestor(self.db, self.settings, source="demo", clock=lambda: self.now)
        people = [self.customer(i) for i in range(customers)]
        times = sorted(
            self.start + timedelta(seconds=self.rng.uniform(0, DAYS * 86400)) for _ in range(events)
        )
        next_sweep = self.start + SWEEP_EVERY
        for done, at in enumerate([*times, self.now]):
            if self.progress is not None and done % PROGRESS_EVERY == 0:
                self.progress("demo", done, events)
            while next_sweep <= at:  # `cxdesk watch` ran all along
                self._run_agenda_until(next_sweep)
                self._commit()
                report = sweep(self.db, self.settings, next_sweep)
                for key in report.metric_alerts:
                    self._schedule_problem(key, next_sweep)
                next_sweep += SWEEP_EVERY
            self._run_agenda_until(at)
            if at < self.now:
                self._feedback(self.rng.choice(people), at)
        self._problems()
        self._commit()
        sweep(self.db, self.settings, self.now)
        if self.progress is not None:
            self.progress("demo", events, events)
        return self._report()

    def create_organisation(self) -> None:
        with self.db.write() as session:
            sync_org(session, self.settings)
            seed_templates(session, self.start)
            set_meta(session, "demo", "true")
            agents = [a for a in AGENTS if a[0] != self.me]
            # Named by login: the name goes into customer-facing templates.
            agents.insert(0, (self.me, self.me, "supervisor", ["care", "vip"], ["zh", "en"]))
            for login, name, role, teams, skills in agents:
                add_agent(
                    session,
                    login=login,
                    display_name=name,
                    role=role,
                    teams=teams,
                    skills=skills,
                    at=self.start,
                )
                for team in teams:
                    self.team_agents.setdefault(team, []).append(login)
                self.services[login] = TicketService(self.db, self.settings, login)
            session.flush()
            session.get_one(Team, "care").supervisor = self.me
            session.get_one(Team, "vip").supervisor = "li.na"

    def customer(self, index: int) -> BaseModel:
        rng = self.rng
        if rng.random() < 0.8:
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice([1, 2])))
            email_name = f"user{index:04d}"
        else:
            name = rng.choice(ENGLISH)
            email_name = name.lower().replace(" ", ".")
        tier = rng.choices(["gold", "silver", "standard"], weights=[10, 25, 65])[0]
        return CustomerIn(
            id=f"C{100000 + index}",
            name=name,
            phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
            email=f"{email_name}@example.com",
            tier=tier,
        )

    # -- feedback ------------------------------------------------------------------------

    def _feedback(self, customer: BaseModel, at: datetime) -> None:
        rng = self.rng
        kind = rng.choices(["survey", "complaint", "review"], weights=[76, 12, 12])[0]
        touchpoint = rng.choice(TOUCHPOINTS)
        unhappy = kind == "complaint" or rng.random() < 0.3
        nps = csat = ces = None
        if kind == "survey":
            nps = rng.randint(0, 6) if unhappy else rng.choice([7, 8, 9, 9, 10, 10])
            csat = rng.randint(1, 3) if unhappy else rng.randint(4, 5)
            ces = rng.randint(4, 7) if unhappy else rng.randint(1, 3)
        elif kind == "review":
            csat = rng.randint(1, 2) if unhappy else rng.randint(4, 5)
        comment = rng.choice(BAD_COMMENTS if unhappy else GOOD_COMMENTS)
        self._accept(
            FeedbackEventIn(
                event_id=self._event_id(),
                kind=kind,
                occurred_at=at,
                customer=customer,
                channel=rng.choice(CHANNELS),
                touchpoint=touchpoint,
                journey=rng.choice(JOURNEYS),
                nps=nps,
                csat=csat,
                ces=ces,
                comment=comment or None,
                drivers=[rng.choice(DRIVERS[touchpoint])] if unhappy else [],
            ),
            at,
        )

    def _event_id(self) -> str:
        self._event_number += 1
        return f"demo-{self._event_number:06d}"

    def _accept(self, event: FeedbackEventIn, at: datetime) -> None:
        """Through ingest, as a feed would deliver it; a new case gets a story."""
        raw = event.model_dump_json(exclude_none=True)
        result = self.ingestor.ingest_event(event, raw, received_at=at, session=self._session())
        if result.outcome is Outcome.CREATED and result.ticket_id and result.alert:
            story = self._story(result.ticket_id, result.alert.decisive.queue, event)
            self._schedule(result.ticket_id, at, story)
        elif result.outcome is Outcome.UPDATED and result.ticket_id:
            self._rework_if_reopened(result.ticket_id, at)

    # -- stories -------------------------------------------------------------------------

    def _schedule(self, ticket_id: int, at: datetime, story: Story) -> None:
        self._sequence += 1
        try:
            delay, action = next(story)
        except StopIteration:
            self._active.discard(ticket_id)
            return
        self._active.add(ticket_id)
        heapq.heappush(self._agenda, (at + delay, self._sequence, _Step(ticket_id, action, story)))

    def _rework_if_reopened(self, ticket_id: int, at: datetime) -> None:
        """A ticket reopened under no story of its own goes back to its owner."""
        if ticket_id in self._active or ticket_id not in self._owners:
            return
        if self._stage(ticket_id) == Stage.ANALYZE:
            self._schedule(ticket_id, at, self._work(ticket_id, *self._owners[ticket_id]))

    def _run_agenda_until(self, until: datetime) -> None:
        while self._agenda and self._agenda[0][0] <= until:
            at, _, step = heapq.heappop(self._agenda)
            try:
                with self._session().begin_nested():  # a refused step leaves nothing behind
                    step.action(at)
            except WorkflowError:
                # A new alert reopened the ticket under its story: the owner works it again.
                self._active.discard(step.ticket_id)
                self._rework_if_reopened(step.ticket_id, at)
                continue
            self._schedule(step.ticket_id, at, step.story)

    def _hours(self, low: float, high: float) -> timedelta:
        """A delay between two steps of a story, drawn at random."""
        return timedelta(hours=self.rng.uniform(low, high))

    def _story(self, ticket_id: int, queue_id: str, event: FeedbackEventIn) -> Story:
        """What the team does with one ticket, as (delay, action) steps."""
        rng = self.rng
        assignee = self._assignee(ticket_id)  # the queue may assign it
        team = self.settings.queues[queue_id].team
        act = self.services[assignee or rng.choice(self.team_agents[team])]
        # Only recent tickets may be neglected; older ones were worked off long ago.
        recent = event.occurred_at.astimezone(self.now.tzinfo) > self.now - timedelta(days=8)
        if recent and rng.random() < 0.25:
            return  # nobody gets to it: it breaches
        if assignee is None:
            yield self._hours(0.05, 3), lambda at: self._do(act, Claim(ticket_id, at=at))
        if recent and rng.random() < 0.15:
            return  # taken and forgotten
        yield (
            self._hours(0.1, 6),
            lambda at: self._do(act, Respond(ticket_id, rng.choice(RESPONSES), at=at)),
        )
        self._owners[ticket_id] = (act, event, recent)
        yield from self._work(ticket_id, act, event, recent)

    def _work(
        self, ticket_id: int, act: TicketService, event: FeedbackEventIn, recent: bool
    ) -> Story:
        """Analyse, fix and verify; a failed verification goes round again."""
        rng = self.rng
        driver = (event.drivers or [rng.choice(DRIVERS[event.touchpoint or "delivery"])])[0]
        cause = ROOT_CAUSES[driver]
        for _round in range(3):
            if rng.random() < 0.25:
                yield (
                    self._hours(0.5, 12),
                    lambda at: self._do(act, Note(ticket_id, rng.choice(NOTES), at=at)),
                )
            if rng.random() < 0.12:
                yield (
                    self._hours(1, 10),
                    lambda at: self._do(
                        act,
                        Pend(
                            ticket_id,
                            "等待客户提供照片 waiting for photos from the customer",
                            at=at,
                        ),
                    ),
                )
                if recent and rng.random() < 0.6:
                    return  # still waiting
                yield self._hours(12, 72), lambda at: self._do(act, Resume(ticket_id, at=at))
            if rng.random() < 0.07:
                yield (
                    self._hours(1, 8),
                    lambda at: self._do(
                        act,
                        Escalate(ticket_id, "customer threatens to cancel 客户要求升级处理", at=at),
                    ),
                )
            yield (
                self._hours(2, 30),
                lambda at: self._do(
                    act,
                    Analyze(
                        ticket_id,
                        root_cause=cause,
                        driver=driver,
                        touchpoint=event.touchpoint,
                        at=at,
                    ),
                ),
            )
            yield (
                self._hours(2, 36),
                lambda at: self._do(
                    act,
                    Resolve(
                        ticket_id,
                        code=rng.choice(
                            ["refund", "replacement", "explanation", "fix", "compensation"]
                        ),
                        root_cause=cause,
                        action="已处理并回访客户 handled and confirmed with customer",
                        remedy=rng.choice([None, "50元优惠券 coupon", "free shipping"]),
                        at=at,
                    ),
                ),
            )
            outcome = rng.random()
            if outcome < 0.6:
                yield self._hours(6, 96), self._answer(ticket_id, event, good=True)
                return
            if outcome < 0.75:
                yield self._hours(6, 96), self._answer(ticket_id, event, good=False)
                continue  # reopened: analyse and fix again
            return  # no answer: the sweep closes it unverified after the verify window

    def _answer(
        self, ticket_id: int, event: FeedbackEventIn, *, good: bool
    ) -> Callable[[datetime], None]:
        def answer(at: datetime) -> None:
            if self._stage(ticket_id) != Stage.VERIFY:
                raise WorkflowError("reopened by a new alert before the follow-up was answered")
            nps = self.rng.randint(7, 10) if good else self.rng.randint(0, 5)
            self._accept(
                FeedbackEventIn(
                    event_id=self._event_id(),
                    kind="followup",
                    occurred_at=at,
                    customer=event.customer,
                    channel=event.channel,
                    nps=nps,
                    comment=None if good else "还是没有解决。 Still not fixed.",
                    ticket_id=ticket_ref(ticket_id),
                ),
                at,
            )

        return answer

    # -- after the replay ----------------------------------------------------------------

    def _problems(self) -> None:
        """Problem tickets for the commonest drivers, with their cases linked."""
        for index, (title, driver, queue_id) in enumerate(PROBLEMS):
            opened = self.now - timedelta(days=25 - 8 * index)
            problem = self._do(
                self.system,
                OpenTicket(
                    kind=TicketKind.PROBLEM,
                    queue_id=queue_id,
                    priority="P2",
                    title=title,
                    at=opened,
                    tags=["problem"],
                ),
            )
            problem_id = problem.id or 0
            cases = (
                self._session()
                .exec(
                    select(Ticket.id)
                    .where(Ticket.driver == driver, Ticket.kind == "case")
                    .where(Ticket.opened_at >= opened - timedelta(days=10))
                    .order_by(col(Ticket.id))  # the same seed, the same cases, on either backend
                    .limit(12)
                )
                .all()
            )
            supervisor = self.services[self.me if queue_id != "vip" else "li.na"]
            self._take(supervisor, problem_id, opened + timedelta(hours=2))
            for case_id in cases:
                assert case_id is not None  # a stored ticket has its number
                self._do(supervisor, Link(case_id, problem_id, at=opened + timedelta(hours=3)))
            if index < 2:
                self._do(
                    supervisor,
                    Analyze(
                        problem_id,
                        root_cause=ROOT_CAUSES[driver],
                        driver=driver,
                        at=opened + timedelta(days=2),
                    ),
                )
            if index == 0:
                self._do(
                    supervisor,
                    CloseProblem(
                        problem_id,
                        "complaints about late delivery back to baseline for 7 days",
                        at=opened + timedelta(days=12),
                    ),
                )

    def _schedule_problem(self, rule: str, at: datetime) -> None:
        """A supervisor takes up the problem ticket a metric alert opened."""
        problem_id = (
            self._session()
            .exec(select(Ticket.id).where(Ticket.rule == rule, Ticket.stage == Stage.NEW))
            .first()
        )
        if problem_id is not None:
            self._schedule(problem_id, at, self._problem_story(problem_id))

    def _problem_story(self, problem_id: int) -> Story:
        lead = self.services[self.me]
        yield self._hours(1, 8), lambda at: self._take(lead, problem_id, at)
        yield (
            self._hours(24, 72),
            lambda at: self._do(
                lead,
                Analyze(
                    problem_id,
                    root_cause="共性问题排查 cross-case investigation",
                    driver="multiple",
                    at=at,
                ),
            ),
        )
        yield (
            timedelta(days=self.rng.uniform(5, 12)),
            lambda at: self._do(
                lead,
                CloseProblem(problem_id, "the metric is back inside its band for a week", at=at),
            ),
        )

    def _take(self, lead: TicketService, ticket_id: int, at: datetime) -> None:
        """A supervisor takes a ticket: claims it, or reassigns it to themself."""
        assignee = self._assignee(ticket_id)
        if assignee is None:
            self._do(lead, Claim(ticket_id, at=at))
        elif assignee != lead.actor:
            self._do(lead, Assign(ticket_id, lead.actor, at=at))

    def _stage(self, ticket_id: int) -> str:
        return self._session().exec(select(Ticket.stage).where(Ticket.id == ticket_id)).one()

    def _assignee(self, ticket_id: int) -> str | None:
        return self._session().exec(select(Ticket.assignee).where(Ticket.id == ticket_id)).one()

    # -- the replay's transactions -------------------------------------------------------

    def _session(self) -> Session:
        """The replay's write transaction, begun when first needed and committed before each
        sweep (which writes in transactions of its own): the events and commands between two
        sweeps are one commit, as a busy desk's would be many, and the batch keeps the queues,
        teams and agents they look up."""
        if self._unit is None:
            self._unit = self._transactions.enter_context(ExitStack())
            self._unit_session = self._unit.enter_context(self.system.batch(())).session
        return self._unit_session

    def _commit(self) -> None:
        if self._unit is not None:
            unit, self._unit = self._unit, None
            unit.close()

    def _do(self, service: TicketService, command: Any) -> Any:
        """`service.handle(command)` in the replay's transaction."""
        return service.handle(command, self._session())

    def _report(self) -> DemoReport:
        from sqlalchemy import func

        with self.db.session() as session:
            report = DemoReport(
                events=session.exec(select(func.count()).select_from(FeedbackEvent)).one(),
                tickets=session.exec(select(func.count()).select_from(Ticket)).one(),
            )
            for stage, count in session.exec(
                select(Ticket.stage, func.count()).group_by(Ticket.stage)
            ):
                report.by_stage[stage] = count
        return report


@dataclass
class _Step:
    ticket_id: int
    action: Callable[[datetime], object]
    story: Story

    def __lt__(self, other: _Step) -> bool:  # heap ties are broken by sequence first
        return False
