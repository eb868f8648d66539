"""The problem side of the loop: the verifications the sweep concludes (each problem's metric
measured over its verify window, handed to the `VerifyProblem` command), the problems'
figures in `report loop`, and the drivers a supervisor may open a problem for."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from cxdesk.db import Database
from cxdesk.models import ProblemScope, Ticket, TicketKind, VerifyOutcome
from cxdesk.models.tickets import NOT_CLOSED
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.loop.commands import VerifyProblem
from cxdesk.workflow.loop.problem_figures import measure


def verification_commands(
    session: Session, problem_ids: Sequence[int], now: datetime
) -> list[VerifyProblem]:
    """A `VerifyProblem` for each of these problems (due, as the sweep's finder found them),
    its metric measured over its verify window. Measured before the command takes its lock:
    the window is over, so the figure no longer changes (late-arriving feedback aside)."""
    commands = []
    for problem_id in sorted(set(problem_ids)):
        scope = session.get(ProblemScope, problem_id)
        if scope is None or scope.verify_since is None or scope.verify_until is None:
            continue
        figure = measure(session, scope.metric, scope.value, scope.verify_since, scope.verify_until)
        commands.append(
            VerifyProblem(problem_id, at=now, after=figure.value, answers=figure.answers)
        )
    return commands


def problem_figures(session: Session, opened: Any) -> list[dict[str, Any]]:
    """Problems opened in the period (`opened`: the period's condition on tickets): how many,
    how many verified by their metric, reopened by it, closed unverified, and the median
    hours from opening to verified."""
    rows = session.exec(
        select(Ticket.opened_at, Ticket.closed_at, Ticket.verify_outcome, Ticket.reopen_count)
        .where(opened, Ticket.kind == TicketKind.PROBLEM)
        .order_by(col(Ticket.id))
    ).all()
    verified_hours = [
        (closed - opened_at).total_seconds() / 3600
        for opened_at, closed, outcome, _ in rows
        if outcome == VerifyOutcome.VERIFIED and closed is not None
    ]
    median = round(statistics.median(verified_hours), 1) if verified_hours else None
    return [
        {"figure": "problems_opened", "value": len(rows)},
        {"figure": "problems_verified", "value": sum(r[2] == VerifyOutcome.VERIFIED for r in rows)},
        {"figure": "problems_reopened", "value": sum(r[3] > 0 for r in rows)},
        {
            "figure": "problems_unverified",
            "value": sum(r[2] == VerifyOutcome.UNVERIFIED for r in rows),
        },
        {"figure": "problems_median_hours_to_verified", "value": median},
    ]


def read_open_drivers(db: Database, viewer: Actor, limit: int = 50) -> list[tuple[str, int]]:
    """The drivers of the open cases the viewer may see, most cases first, with how many:
    what a supervisor picks from to open a problem (the open cases of the driver it links)."""
    count = func.count()
    statement = (
        select(Ticket.driver, count)
        .where(
            Ticket.kind == TicketKind.CASE,
            NOT_CLOSED,
            col(Ticket.driver).is_not(None),
        )
        .group_by(col(Ticket.driver))
        .order_by(count.desc(), col(Ticket.driver))
        .limit(limit)
    )
    with db.session() as session:
        scope = visible_queues(session, viewer)
        if scope is not None:
            statement = statement.where(col(Ticket.queue_id).in_(scope))
        return [(driver, int(n)) for driver, n in session.exec(statement) if driver]
