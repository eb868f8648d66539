"""The loop's reports by name, over a period and the queues one may see: what `cxdesk report`
prints and the report screen shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.insight import metrics

REPORTS = ("sla", "loop", "nps", "drivers", "backlog")
# What a report's chart draws: the label column and the figure column of its rows.
CHARTED = {
    "sla": ("key", "resolution_pct"),
    "loop": ("figure", "value"),
    "nps": ("key", "nps"),
    "drivers": ("driver", "tickets"),
    "backlog": ("stage", "total"),
}


def report_rows(
    session: Session,
    settings: Settings,
    viewer: Actor,
    kind: str,
    now: datetime,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    queue: str | None = None,
    team: str | None = None,
) -> list[dict[str, Any]]:
    """The rows of report `kind` for the viewer's queues (narrowed to a queue or a team)."""
    queues = metrics.report_queues(session, visible_queues(session, viewer), queue, team)
    period = metrics.Period(since=since, until=until, queues=queues)
    reports: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "sla": lambda: metrics.sla_report(session, settings, period, now),
        "loop": lambda: metrics.loop_report(session, period),
        "nps": lambda: metrics.nps_report(session, period),
        "drivers": lambda: metrics.drivers_report(session, period),
        "backlog": lambda: metrics.backlog_report(session, period, now),
    }
    return reports[kind]()


def read_report(
    db: Database,
    settings: Settings,
    viewer: Actor,
    kind: str,
    now: datetime,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    queue: str | None = None,
    team: str | None = None,
) -> list[dict[str, Any]]:
    """`report_rows` in a session of its own (the report screen's worker)."""
    with db.session() as session:
        return report_rows(
            session, settings, viewer, kind, now, since=since, until=until, queue=queue, team=team
        )
