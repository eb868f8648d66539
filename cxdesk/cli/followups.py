"""`cxdesk followups`: hand the due follow-up surveys to whoever sends them, and see how
their delivery went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import format_option, wide_option
from cxdesk.output import print_json_lines, print_rows

LIST_COLUMNS = (
    "ticket",
    "customer",
    "status",
    "attempts",
    "next_attempt",
    "sent",
    "expires",
    "channel",
    "reason",
)
LIST_DROPS = ("channel", "expires", "customer", "sent")  # first to go on a narrow terminal


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


@followups.command("list")
@click.option("--status", help="Only this status (scheduled, sending, sent, failed, …).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@format_option
@wide_option
@pass_context
def followups_list(context: Context, status: str | None, limit: int, fmt: str, wide: bool) -> None:
    """The follow-ups in your queues, newest first: status, attempts, the next attempt (for
    one being sent: when its claim runs out) and why the last one failed or was suppressed.

    A terminal too narrow for the table cuts the reason first, then hides the channel, the
    expiry, the customer and the sending time, in that order; --wide shows them all."""
    from cxdesk.workflow.reads.followups import list_followups

    with context.database().session() as session:
        rows = list_followups(session, context.viewer(), status=status, limit=limit)
    text = fmt != "json"
    out = [
        {
            "id": row.id,
            "ticket": row.ticket,
            "customer": row.customer_id,
            "status": row.status,
            "attempts": row.attempts,
            "next_attempt": _instant(context, row.next_attempt_at, text),
            "sent": _instant(context, row.sent_at, text),
            "expires": _instant(context, row.expires_at, text),
            "channel": row.channel,
            "reason": row.reason,
        }
        for row in rows
    ]
    print_rows(out, fmt, LIST_COLUMNS, drop=LIST_DROPS, wide=wide)  # type: ignore[arg-type]


def _instant(context: Context, moment: datetime | None, text: bool) -> Any:
    """ISO 8601 in UTC for JSON; the configured zone's local minute for a table or CSV."""
    from zoneinfo import ZoneInfo

    if moment is None:
        return None
    if not text:
        return moment.isoformat()
    return moment.astimezone(ZoneInfo(context.settings.timezone)).strftime("%Y-%m-%d %H:%M")
