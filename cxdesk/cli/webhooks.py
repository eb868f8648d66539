"""`cxdesk webhooks`: deliver the outbox once, and see what waits or failed (admins)."""

from __future__ import annotations

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import format_option, print_figures
from cxdesk.output import print_rows, say

STATES = ("pending", "failed", "delivered")
COLUMNS = (
    "id",
    "endpoint",
    "kind",
    "ticket",
    "status",
    "attempts",
    "created_at",
    "next_at",
    "last_error",
)


@click.group()
def webhooks() -> None:
    """Ticket events sent to the configured endpoints, signed, from the outbox."""


@webhooks.command("deliver")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def deliver_command(context: Context, fmt: str) -> None:
    """Send what is due now, once (`cxdesk watch` does this after each sweep)."""
    from cxdesk.workflow.ops.webhooks import deliver

    context.viewer().require_admin("deliver webhooks")
    report = deliver(context.database(), context.settings, context.now())
    for name, why in report.unusable.items():
        say(f"cxdesk: webhook {name} not sent to: {why}", err=True)
    print_figures(report.as_dict(), fmt)


@webhooks.command("list")
@click.option(
    "--status",
    "statuses",
    type=click.Choice([*STATES, "all"]),
    multiple=True,
    help="Which deliveries (repeatable); default: pending and failed.",
)
@click.option("--endpoint", help="Only this endpoint's deliveries.")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
@format_option
@pass_context
def list_command(
    context: Context, statuses: tuple[str, ...], endpoint: str | None, limit: int, fmt: str
) -> None:
    """Deliveries with their attempts, next try and last error, oldest first."""
    from cxdesk.workflow.reads.deliveries import list_deliveries

    context.viewer().require_admin("list webhook deliveries")
    chosen = STATES if "all" in statuses else statuses or ("pending", "failed")
    with context.database().session() as session:
        rows = list_deliveries(session, chosen, limit, endpoint)
    shown = [
        {
            **row.__dict__,
            "next_at": context.local(row.next_at),
            "created_at": context.local(row.created_at),
        }
        for row in rows
    ]
    print_rows(shown, fmt, COLUMNS, drop=("created_at", "endpoint"))  # type: ignore[arg-type]
