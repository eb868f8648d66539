"""A realistic demo database, built by replaying sixty days of a CX team's work.

Feedback events arrive in time order and go through the same ingest path, alert rules
and ticket commands as real work, each at its simulated time; every ticket follows a
story (claimed, answered, analysed, resolved, verified or not) that stops wherever "now"
falls, so the database ends with tickets in every stage, some at risk, some breached.

The cases' stories (one generator per kind of ticket) read as one script; the problems' are
in `problems`, the agenda they run on and the replay's transaction in `replay`, the customers
and their feedback in `feedback`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import WorkflowError
from cxdesk.models import FeedbackEvent, Stage, Team, Ticket
from cxdesk.workflow.access.identity import current_login
from cxdesk.workflow.access.org import set_meta, sync_org
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.basics.progress import Progress
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.demo.feedback import demo_customer, demo_feedback
from cxdesk.workflow.demo.problems import ProblemWork
from cxdesk.workflow.demo.replay import Story
from cxdesk.workflow.demo.world import (
    AGENTS,
    DAYS,
    DRIVERS,
    NOTES,
    RESPONSES,
    ROOT_CAUSES,
    SMALL_CUSTOMERS,
    SMALL_EVENTS,
    SWEEP_EVERY,
)
from cxdesk.workflow.intake.events import FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.outcomes import Outcome
from cxdesk.workflow.loop.desk_commands import (
    Analyze,
    Claim,
    Escalate,
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


PROGRESS_EVERY = 25  # events replayed between two words to the progress bar


class DemoBuilder(ProblemWork):
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
        super().__init__(TicketService(db, settings, SYSTEM_ACTOR), random.Random(seed))
        self.db = db
        self.progress = progress  # told the events replayed
        self.settings = settings
        self.now = now
        self.start = now - timedelta(days=DAYS)
        self.me = current_login()
        self.services: dict[str, TicketService] = {}
        self.team_agents: dict[str, list[str]] = {}
        self._owners: dict[int, tuple[TicketService, FeedbackEventIn, bool]] = {}
        self._event_number = 0

    # -- setup ---------------------------------------------------------------------------

    def build(self, events: int = SMALL_EVENTS, customers: int = SMALL_CUSTOMERS) -> DemoReport:
        with self._replaying():
            return self._replay(events, customers)

    def _replay(self, events: int, customers: int) -> DemoReport:
        self.create_organisation()
        self.ingestor = Ingestor(self.db, self.settings, source="demo", clock=lambda: self.now)
        people = [demo_customer(self.rng, i) for i in range(customers)]
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

    # -- feedback ------------------------------------------------------------------------

    def _feedback(self, customer: BaseModel, at: datetime) -> None:
        self._accept(demo_feedback(self.rng, self._event_id(), customer, at), at)

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

    def _rework_if_reopened(self, ticket_id: int, at: datetime) -> None:
        """A ticket reopened under no story of its own goes back to its owner."""
        if ticket_id in self._active or ticket_id not in self._owners:
            return
        if self._stage(ticket_id) == Stage.ANALYZE:
            self._schedule(ticket_id, at, self._work(ticket_id, *self._owners[ticket_id]))

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
