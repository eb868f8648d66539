"""`cxdesk followups`: hand the due follow-up surveys to whoever sends them."""

from __future__ import annotations

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.output import print_json_lines, print_rows


@click.group()
def followups() -> None:
    """Follow-up surveys sent after each resolution."""


@followups.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl", "json"]), default="csv", show_default=True
)
@click.option("--limit", type=click.IntRange(min=1), default=10_000, show_default=True)
@pass_context
def followups_export(context: Context, fmt: str, limit: int) -> None:
    """Print the due follow-ups (contacts masked per your role) and mark them sent."""
    from cxdesk.workflow.loop.followups import export_due

    viewer = context.viewer()
    with context.database().write() as session:
        rows = [row.__dict__ for row in export_due(session, viewer, context.now(), limit)]
    if fmt == "jsonl":
        print_json_lines(rows)
    else:
        print_rows(rows, fmt, list(rows[0]) if rows else ["ticket_id"])  # type: ignore[arg-type]
