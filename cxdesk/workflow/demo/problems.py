"""The demo's problem tickets: three opened for the commonest drivers once the replay is
over, their cases linked, and the story a supervisor follows with a problem a metric alert
opened during the replay.

Apart from the cases' stories (`small`): the outer loop reads on its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from cxdesk.models import Stage, Ticket, TicketKind
from cxdesk.workflow.demo.replay import Replay, Story
from cxdesk.workflow.demo.world import PROBLEMS, ROOT_CAUSES
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import Analyze, Assign, Claim, CloseProblem, Link
from cxdesk.workflow.loop.service import TicketService


class ProblemWork(Replay):
    """The problems' part of the demo builder, which sets the people these need."""

    services: dict[str, TicketService]  # each agent's service, by login
    me: str  # who builds the demo: a supervisor there
    now: datetime

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
