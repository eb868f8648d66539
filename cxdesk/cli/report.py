"""`cxdesk report`: the loop's metrics over a period, for the queues one may see."""

from __future__ import annotations

import click

from cxdesk.cli.context import Context, parse_instant, pass_context
from cxdesk.cli.shared import format_option
from cxdesk.output import print_rows


@click.command()
@click.argument("kind", type=click.Choice(["sla", "loop", "nps", "drivers", "backlog"]))
@click.option("--since", help="From this time (ISO 8601; tickets by opening, feedback by time).")
@click.option("--until", help="Up to this time, exclusive.")
@click.option("--queue", "queue_id", help="Only this queue's tickets.")
@click.option("--team", help="Only this team's queues.")
@format_option
@pass_context
def report(
    context: Context,
    kind: str,
    since: str | None,
    until: str | None,
    queue_id: str | None,
    team: str | None,
    fmt: str,
) -> None:
    """Loop metrics: sla, loop, nps (NPS/CSAT/CES), drivers (Pareto), backlog."""
    from cxdesk.workflow.insight.reports import report_rows

    tz = context.settings.timezone
    with context.database().session() as session:
        rows = report_rows(
            session,
            context.settings,
            context.viewer(),
            kind,
            context.now(),
            since=parse_instant(since, tz, "--since") if since else None,
            until=parse_instant(until, tz, "--until") if until else None,
            queue=queue_id,
            team=team,
        )
    print_rows(rows, fmt, list(rows[0]) if rows else ["figure"])  # type: ignore[arg-type]
