"""`cxdesk ticket`: list and show tickets, and work them one command at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import format_option, wide_option
from cxdesk.cli.ticket_rows import show_acted, ticket_json
from cxdesk.output import print_json, print_rows, say

if TYPE_CHECKING:
    from cxdesk.workflow.reads.detail import TicketDetail


TICKET_COLUMNS = ("id", "priority", "stage", "queue", "assignee", "customer", "sla", "title")
# What a narrow terminal hides first, in this order; the title is cut before any of them.
NARROW_DROPS = ("customer", "queue", "priority", "stage")


class TicketGroup(click.Group):
    """The commands defined here, and the desk's (claim, resolve, …: `ticket_work`), added
    the first time a name is not one of these or every command is listed."""

    desk_added = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_desk_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._add_desk_commands()
        return super().get_command(ctx, cmd_name)

    def _add_desk_commands(self) -> None:
        from cxdesk.cli.ticket_work import add_desk_commands

        if not self.desk_added:
            add_desk_commands(self)
            self.desk_added = True


@click.group(cls=TicketGroup)
def ticket() -> None:
    """List, show and work tickets."""


@ticket.command("list")
@click.option("--stage", help="Only this stage.")
@click.option("--queue", help="Only this queue.")
@click.option("--assignee", help="Only tickets assigned to this login.")
@click.option(
    "--view",
    type=click.Choice(
        ["mine", "unassigned", "at_risk", "breached", "escalated", "verifying", "all"]
    ),
    default="all",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@format_option
@wide_option
@pass_context
def ticket_list(
    context: Context,
    stage: str | None,
    queue: str | None,
    assignee: str | None,
    view: str,
    limit: int,
    fmt: str,
    wide: bool,
) -> None:
    """List tickets, most urgent SLA first (newest first in the `all` view).

    A terminal too narrow for the table cuts titles first, then hides the customer, the
    queue, the priority and the stage, in that order; --wide shows them all."""
    from cxdesk.models import Stage
    from cxdesk.workflow.access.permissions import visible_queues
    from cxdesk.workflow.reads.tickets import TicketFilter, View, list_tickets

    if stage is not None and stage not in {s.value for s in Stage}:
        raise click.BadParameter(
            f"{stage!r} is not one of {', '.join(Stage)}", param_hint="--stage"
        )
    db = context.database()
    now = context.now()
    viewer = context.viewer()
    with db.session() as session:
        scope = visible_queues(session, viewer)
        flt = TicketFilter(View(view), stage, queue, assignee, viewer.login, now, scope)
        rows = list_tickets(session, flt, limit=limit)
    out = [ticket_json(context, row, now, text=fmt != "json") for row in rows]
    print_rows(out, fmt, TICKET_COLUMNS, drop=NARROW_DROPS, wide=wide)  # type: ignore[arg-type]


@ticket.command("show")
@click.argument("ticket_id")
@format_option
@pass_context
def ticket_show(context: Context, ticket_id: str, fmt: str) -> None:
    """Show one ticket with its customer and timeline."""
    from cxdesk.workflow.basics.refs import parse_ref
    from cxdesk.workflow.reads.detail import ticket_detail

    number = parse_ref(ticket_id)
    viewer = context.viewer()
    with context.database().session() as session:
        detail = ticket_detail(session, number, viewer)
    if fmt == "table":
        _print_ticket(context, detail)
        return
    data: dict[str, Any] = ticket_json(context, detail.row, context.now())
    data.update(detail.parts_json())
    if fmt == "json":
        print_json(data)
    else:
        print_rows(
            [
                dict(data, at=t["at"], actor=t["actor"], entry=t["kind"], body=t["body"])
                for t in data["timeline"]
            ],
            "csv",
            ("id", "stage", "priority", "at", "actor", "entry", "body"),
        )


SLA_COLUMNS = ("from", "to", "kind", "counted", "total", "note")


@ticket.command("sla")
@click.argument("ticket_id")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def ticket_sla(context: Context, ticket_id: str, fmt: str) -> None:
    """Explain a ticket's SLA clocks: each stretch from the clock's start, counted or not
    and why, with the running total of working time, the at-risk point and the due time."""
    from cxdesk.workflow.basics.refs import parse_ref, ticket_ref
    from cxdesk.workflow.clocks.stretches import working_time
    from cxdesk.workflow.reads.sla import read_ticket_sla, sla_json

    explanation = read_ticket_sla(
        context.database(), context.settings, parse_ref(ticket_id), context.viewer(), context.now()
    )
    if fmt == "json":
        print_json(sla_json(explanation))
        return
    for clock in explanation.clocks:
        say(
            f"{ticket_ref(explanation.ticket_id)} {clock.clock.replace('_', ' ')}: "
            f"{clock.priority}, policy {clock.policy}, calendar {clock.calendar}, "
            f"target {working_time(clock.target)}",
            bold=True,
        )
        say(
            f"state {clock.state}  counted {working_time(clock.counted)}  given back "
            f"{working_time(clock.given_back)}  at risk {context.local(clock.at_risk_at) or '-'}"
            f"  due {context.local(clock.due) or '-'}"
        )
        if not clock.agrees:
            say(f"the history replayed gives due {context.local(clock.replayed_due) or '-'}")
        rows = [
            {
                "from": context.local(i.start),
                "to": context.local(i.end),
                "kind": i.kind.value.replace("_", " ") + (" (ahead)" if i.ahead else ""),
                "counted": working_time(i.counted),
                "total": working_time(i.total),
                "note": i.note,
            }
            for i in clock.intervals
        ]
        print_rows(rows, "table", SLA_COLUMNS)
        for mark in clock.marks:
            say(f"  {context.local(mark.at)}  {mark.kind.replace('_', ' ')}  {mark.note}")
        say("")


@ticket.command("claim-next")
@click.option("--queue", help="Only from this queue (default: every queue you work).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def ticket_claim_next(context: Context, queue: str | None, fmt: str) -> None:
    """Take the most urgent unassigned open case: nearest SLA due, then priority, then oldest."""
    from cxdesk.workflow.loop.desk_commands import ClaimNext
    from cxdesk.workflow.loop.service import TicketService

    service = TicketService(context.database(), context.settings, context.actor())
    claimed = service.handle(ClaimNext(queue=queue, at=context.now()))
    assert claimed.id is not None  # a claimed ticket is stored
    show_acted(
        context,
        claimed.id,
        fmt,
        lambda row: (
            f"{row.id} claimed: {row.stage}, {row.priority}, {row.queue}, assignee "
            f"{row.assignee}, version {row.version}"
        ),
    )


def _print_ticket(context: Context, detail: TicketDetail) -> None:
    row = detail.row
    say(f"{row.id}  {row.priority}  {row.stage}  {row.queue}  {row.title}", bold=True)
    customer = detail.customer
    if customer is not None:
        say(
            f"customer {customer.id} {customer.name or ''} tier "
            f"{customer.tier or '-'} {customer.phone or ''} {customer.email or ''}"
        )
    sla = ticket_json(context, row, context.now(), text=True)["sla"]
    say(
        f"assignee {row.assignee or '-'}  escalation {row.escalation_level}  "
        f"sla {sla or '-'}  first response due {context.local(row.first_response_due)}  "
        f"resolution due {context.local(row.resolution_due)}"
    )
    for item in detail.timeline:
        say(
            f"{context.local(item.at)}  {item.actor:<12} {item.kind:<10} {item.body}",
            multiline=True,
        )
