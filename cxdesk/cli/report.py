"""`cxdesk report`: the loop's metrics over a period, for the queues one may see."""

from __future__ import annotations

import click

from cxdesk.cli.context import Context, parse_instant, pass_context
from cxdesk.cli.shared import format_option, wide_option
from cxdesk.output import print_rows

# What a narrow terminal hides first, in this order: the counts behind a percentage, then the
# tails and the medians. A terminal too narrow still loses the rightmost columns next.
NARROW_DROPS = {
    "sla": (
        "first_response_met",
        "first_response_total",
        "resolution_met",
        "resolution_total",
        "first_response_p90_h",
        "resolution_p90_h",
        "first_response_median_h",
        "resolution_median_h",
    ),
    "nps": ("nps_answers", "csat_answers", "ces_answers"),
}


@click.command()
@click.argument("kind", type=click.Choice(["sla", "loop", "nps", "drivers", "backlog"]))
@click.option("--since", help="From this time (ISO 8601; tickets by opening, feedback by time).")
@click.option("--until", help="Up to this time, exclusive.")
@click.option("--queue", "queue_id", help="Only this queue's tickets.")
@click.option("--team", help="Only this team's queues.")
@format_option
@wide_option
@pass_context
def report(
    context: Context,
    kind: str,
    since: str | None,
    until: str | None,
    queue_id: str | None,
    team: str | None,
    fmt: str,
    wide: bool,
) -> None:
    """Loop metrics: sla, loop, nps (NPS/CSAT/CES), drivers (Pareto), backlog.

    A table too wide for the terminal hides the counts behind each percentage first, then
    (sla) the 90th percentiles and the medians; --wide shows them all."""
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
    columns = list(rows[0]) if rows else ["figure"]
    print_rows(rows, fmt, columns, drop=NARROW_DROPS.get(kind, ()), wide=wide)  # type: ignore[arg-type]
