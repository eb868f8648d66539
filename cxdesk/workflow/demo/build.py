"""Building a demo database of either size; the one entry point `cxdesk demo` calls."""

from __future__ import annotations

from datetime import datetime

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Stage
from cxdesk.workflow.basics.progress import Progress
from cxdesk.workflow.demo.small import DemoBuilder, DemoReport
from cxdesk.workflow.ops.schema import upgrade_database


def demo_summary(report: DemoReport) -> str:
    stages = ", ".join(f"{s.value} {report.by_stage.get(s.value, 0)}" for s in Stage)
    return f"{report.events} feedback events, {report.tickets} tickets ({stages})"


def build_demo_database(
    db: Database,
    settings: Settings,
    *,
    seed: int,
    size: str,
    now: datetime,
    progress: Progress | None = None,
) -> str:
    """Create the schema and fill it, telling `progress` how far; returns a one-line summary."""
    upgrade_database(db)
    if size == "large":
        from cxdesk.workflow.demo.large import build_large

        return build_large(db, settings, seed=seed, now=now, progress=progress)
    builder = DemoBuilder(db, settings, seed=seed, now=now, progress=progress)
    return demo_summary(builder.build())
