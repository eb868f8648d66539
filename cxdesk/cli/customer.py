"""`cxdesk customer`: one customer's story — contact, tickets and their outcomes, feedback."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.output import print_json, print_rows, say

if TYPE_CHECKING:
    from cxdesk.workflow.reads.customers import CustomerView

TICKET_COLUMNS = ("id", "kind", "priority", "queue", "outcome", "reopened", "opened", "title")
FEEDBACK_COLUMNS = ("at", "kind", "channel", "touchpoint", "nps", "csat", "ticket", "comment")


@click.group()
def customer() -> None:
    """A customer's tickets and feedback, as you may see them."""


@customer.command("show")
@click.argument("customer_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@pass_context
def customer_show(context: Context, customer_id: str, fmt: str) -> None:
    """Show a customer: tier, contact (masked unless your role may see it), every ticket in
    the queues you may see with its outcome, and every feedback event, newest first."""
    from cxdesk.workflow.reads.customers import read_customer

    view = read_customer(context.database(), customer_id, context.viewer())
    if fmt == "json":
        print_json(_customer_json(view))
    else:
        _print_customer(context, view)


def _customer_json(view: CustomerView) -> dict[str, Any]:
    data = asdict(view)
    for item in (*data["tickets"], *data["feedback"]):
        for key, value in item.items():
            if hasattr(value, "isoformat"):
                item[key] = value.isoformat()
    return data


def _print_customer(context: Context, view: CustomerView) -> None:
    say(f"{view.id}  {view.name or ''}", bold=True)
    say(f"tier {view.tier or '-'}  phone {view.phone or '-'}  email {view.email or '-'}")
    say(f"\ntickets ({len(view.tickets)})", bold=True, multiline=True)
    tickets = [
        {
            "id": t.id,
            "kind": t.kind,
            "priority": t.priority,
            "queue": t.queue,
            "outcome": t.outcome,
            "reopened": t.reopen_count or "",
            "opened": context.local(t.opened_at),
            "title": t.title,
        }
        for t in view.tickets
    ]
    print_rows(tickets, "table", TICKET_COLUMNS)
    say(f"\nfeedback ({len(view.feedback)})", bold=True, multiline=True)
    feedback = [
        {
            "at": context.local(f.occurred_at),
            "kind": f.kind,
            "channel": f.channel,
            "touchpoint": f.touchpoint,
            "nps": f.nps,
            "csat": f.csat,
            "ticket": f.ticket,
            "comment": f.comment,
        }
        for f in view.feedback
    ]
    print_rows(feedback, "table", FEEDBACK_COLUMNS)
