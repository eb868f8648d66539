"""`cxdesk ticket`: list and show tickets, and work them one command at a time."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import format_option, stdin_if_dash
from cxdesk.output import print_json, print_rows, say

if TYPE_CHECKING:
    from cxdesk.workflow.reads.queries import TicketDetail, TicketRow


TICKET_COLUMNS = ("id", "priority", "stage", "queue", "assignee", "customer", "sla", "title")


@click.group()
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
@pass_context
def ticket_list(
    context: Context,
    stage: str | None,
    queue: str | None,
    assignee: str | None,
    view: str,
    limit: int,
    fmt: str,
) -> None:
    """List tickets, most urgent SLA first (newest first in the `all` view)."""
    from cxdesk.models import Stage
    from cxdesk.workflow.access.permissions import visible_queues
    from cxdesk.workflow.reads.queries import TicketFilter, View, list_tickets

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
    out = [_ticket_json(context, row, now) for row in rows]
    print_rows(out, fmt, TICKET_COLUMNS)  # type: ignore[arg-type]


def _ticket_json(context: Context, row: TicketRow, now: datetime) -> dict[str, Any]:
    """A ticket row as the CLI prints it, with the running clock in working time."""
    from cxdesk.workflow.clocks.sla import format_remaining

    data = row.to_json()
    reading = context.clocks().read(row.queue, row.priority, row.sla_due, row.sla_risk_at, now)
    data["sla_state"] = reading.state.value if reading else None
    data["sla"] = format_remaining(reading)
    data["customer"] = row.customer_name or row.customer_id
    return data


@ticket.command("show")
@click.argument("ticket_id")
@format_option
@pass_context
def ticket_show(context: Context, ticket_id: str, fmt: str) -> None:
    """Show one ticket with its customer and timeline."""
    from cxdesk.workflow.basics.refs import parse_ref
    from cxdesk.workflow.reads.queries import ticket_detail

    number = parse_ref(ticket_id)
    viewer = context.viewer()
    with context.database().session() as session:
        detail = ticket_detail(session, number, viewer)
    if fmt == "table":
        _print_ticket(context, detail)
        return
    data: dict[str, Any] = detail.row.to_json()
    data.update(
        customer=None if detail.customer is None else detail.customer.__dict__,
        links=detail.links,
        resolution=detail.resolution,
        verify_outcome=detail.verify_outcome,
        reopen_count=detail.reopen_count,
        timeline=[
            {
                "at": t.at.isoformat(),
                "actor": t.actor,
                "kind": t.kind,
                "body": t.body,
                "event_id": t.event_id,
            }
            for t in detail.timeline
        ],
    )
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


def ticket_command(name: str, verb: str, *arguments: str) -> Callable[[Callable], Callable]:
    """Declare `cxdesk ticket NAME TICKET …`: one service command, then the ticket as it now
    is. The decorated function receives the service, the ticket number and its options."""

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        @ticket.command(name, help=body.__doc__)
        @click.argument("ticket_id", metavar="TICKET")
        @click.option(
            "--version",
            "version",
            type=int,
            help="Fail unless the ticket is still at this version (optimistic lock).",
        )
        @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
        @pass_context
        @functools.wraps(body)
        def command(
            context: Context, ticket_id: str, version: int | None, fmt: str, **options: Any
        ) -> None:
            from cxdesk.workflow.basics.refs import parse_ref
            from cxdesk.workflow.loop.service import TicketService
            from cxdesk.workflow.reads.queries import ticket_detail

            number = parse_ref(ticket_id)
            service = TicketService(context.database(), context.settings, context.actor())
            body(service, number, at=context.now(), version=version, **options)
            with context.database().session() as session:
                row = ticket_detail(session, number, context.viewer()).row
            if fmt == "json":
                print_json(_ticket_json(context, row, context.now()))
            else:
                say(
                    f"{row.id} {verb}: {row.stage}, {row.priority}, assignee "
                    f"{row.assignee or '—'}, escalation {row.escalation_level}, "
                    f"version {row.version}"
                )

        for argument in reversed(arguments):
            command = click.argument(argument)(command)
        return command

    return decorate


def text_option(name: str, what: str) -> Callable[[Callable], Callable]:
    return click.option(f"--{name}", name.replace("-", "_"), required=True, help=what)


@ticket_command("claim", "claimed")
def ticket_claim(service: Any, number: int, **kw: Any) -> None:
    """Take an unassigned ticket."""
    service.claim(number, **kw)


@ticket.command("claim-next")
@click.option("--queue", help="Only from this queue (default: every queue you work).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def ticket_claim_next(context: Context, queue: str | None, fmt: str) -> None:
    """Take the most urgent unassigned open case: nearest SLA due, then priority, then oldest."""
    from cxdesk.workflow.loop.service import TicketService
    from cxdesk.workflow.reads.queries import ticket_detail

    service = TicketService(context.database(), context.settings, context.actor())
    claimed = service.claim_next(queue=queue, at=context.now())
    with context.database().session() as session:
        row = ticket_detail(session, claimed.id, context.viewer()).row
    if fmt == "json":
        print_json(_ticket_json(context, row, context.now()))
    else:
        say(
            f"{row.id} claimed: {row.stage}, {row.priority}, {row.queue}, assignee "
            f"{row.assignee}, version {row.version}"
        )


@ticket_command("assign", "assigned", "login")
def ticket_assign(service: Any, number: int, login: str, **kw: Any) -> None:
    """Assign or reassign a ticket to LOGIN (supervisors)."""
    service.assign(number, login, **kw)


def message_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--template", help="A template to fill in (see `template list`).")(
        command
    )
    return click.option("--message", help="The text (- reads it from standard input).")(command)


def _message(service: Any, number: int, message: str | None, template: str | None) -> str:
    if (message is None) == (template is None):
        raise click.UsageError("give either --message or --template")
    if template is not None:
        from cxdesk.workflow.loop.templates import render_template

        with service.db.session() as session:
            return render_template(session, template, number, service.actor)
    return stdin_if_dash(message or "")


@message_options
@ticket_command("respond", "answered")
def ticket_respond(
    service: Any, number: int, message: str | None, template: str | None, **kw: Any
) -> None:
    """Reply to the customer; the first reply is the first response."""
    service.respond(number, _message(service, number, message, template), **kw)


@message_options
@ticket_command("note", "noted")
def ticket_note(
    service: Any, number: int, message: str | None, template: str | None, **kw: Any
) -> None:
    """Add an internal note."""
    service.note(number, _message(service, number, message, template), **kw)


@text_option("reason", "What the ticket waits for.")
@ticket_command("pend", "pending")
def ticket_pend(service: Any, number: int, reason: str, **kw: Any) -> None:
    """Wait on the customer or a third party; the SLA clock stops."""
    service.pend(number, reason, **kw)


@ticket_command("resume", "resumed")
def ticket_resume(service: Any, number: int, **kw: Any) -> None:
    """End the wait; the SLA clock runs on with the time it had left."""
    service.resume(number, **kw)


@click.option("--touchpoint", help="The touchpoint at fault.")
@text_option("driver", "The driver category (e.g. late_delivery).")
@text_option("root-cause", "What caused it.")
@ticket_command("analyze", "analysed")
def ticket_analyze(
    service: Any, number: int, root_cause: str, driver: str, touchpoint: str | None, **kw: Any
) -> None:
    """Code the root cause; the ticket moves on to fix."""
    service.analyze(number, root_cause=root_cause, driver=driver, touchpoint=touchpoint, **kw)


@click.option("--remedy", help="What the customer was given.")
@text_option("action", "What was done.")
@text_option("root-cause", "What caused it.")
@text_option("code", "The resolution code (refund, replacement, fix, …).")
@ticket_command("resolve", "resolved")
def ticket_resolve(
    service: Any,
    number: int,
    code: str,
    root_cause: str,
    action: str,
    remedy: str | None,
    **kw: Any,
) -> None:
    """Record the resolution; the follow-up survey is scheduled."""
    service.resolve(number, code=code, root_cause=root_cause, action=action, remedy=remedy, **kw)


@text_option("reason", "Why.")
@ticket_command("escalate", "escalated")
def ticket_escalate(service: Any, number: int, reason: str, **kw: Any) -> None:
    """One level up the ladder (team supervisor, then CX manager)."""
    service.escalate(number, reason, **kw)


@text_option("reason", "Why.")
@ticket_command("deescalate", "de-escalated")
def ticket_deescalate(service: Any, number: int, reason: str, **kw: Any) -> None:
    """One level down the ladder (supervisors)."""
    service.deescalate(number, reason, **kw)


@text_option("reason", "Why.")
@ticket_command("reopen", "reopened")
def ticket_reopen(service: Any, number: int, reason: str, **kw: Any) -> None:
    """Back to analyze (supervisors)."""
    service.reopen(number, reason, **kw)


@ticket_command("link", "linked", "problem")
def ticket_link(service: Any, number: int, problem: str, **kw: Any) -> None:
    """Link a case to the PROBLEM ticket that explains it."""
    from cxdesk.workflow.basics.refs import parse_ref

    service.link(number, parse_ref(problem), **kw)


@text_option("evidence", "How the metric shows it is fixed.")
@ticket_command("close", "closed")
def ticket_close(service: Any, number: int, evidence: str, **kw: Any) -> None:
    """Close a problem ticket with the evidence that it is fixed (supervisors)."""
    service.close_problem(number, evidence, **kw)


@ticket_command("merge", "merged into", "into")
def ticket_merge(service: Any, number: int, into: str, at: datetime, version: int | None) -> None:
    """Merge the ticket into INTO, another case of the same customer."""
    from cxdesk.workflow.basics.refs import parse_ref

    service.merge(number, parse_ref(into), version=version, at=at)


def _print_ticket(context: Context, detail: TicketDetail) -> None:
    row = detail.row
    say(f"{row.id}  {row.priority}  {row.stage}  {row.queue}  {row.title}", bold=True)
    customer = detail.customer
    if customer is not None:
        say(
            f"customer {customer.id} {customer.name or ''} tier "
            f"{customer.tier or '-'} {customer.phone or ''} {customer.email or ''}"
        )
    say(
        f"assignee {row.assignee or '-'}  escalation {row.escalation_level}  "
        f"first response due {context.local(row.first_response_due)}  "
        f"resolution due {context.local(row.resolution_due)}"
    )
    for item in detail.timeline:
        say(
            f"{context.local(item.at)}  {item.actor:<12} {item.kind:<10} {item.body}",
            multiline=True,
        )
