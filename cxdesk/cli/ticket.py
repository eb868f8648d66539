"""`cxdesk ticket`: list and show tickets, and work them one command at a time."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import format_option, stdin_if_dash, wide_option
from cxdesk.errors import CxdeskError
from cxdesk.output import print_json, print_rows, say
from cxdesk.workflow.loop.commands import TicketCommand
from cxdesk.workflow.loop.desk_commands import DESK_COMMANDS

if TYPE_CHECKING:
    from cxdesk.workflow.loop.service import Outcome
    from cxdesk.workflow.reads.detail import TicketDetail
    from cxdesk.workflow.reads.tickets import TicketRow


TICKET_COLUMNS = ("id", "priority", "stage", "queue", "assignee", "customer", "sla", "title")
# What a narrow terminal hides first, in this order; the title is cut before any of them.
NARROW_DROPS = ("customer", "queue", "priority", "stage")


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
    out = [_ticket_json(context, row, now, text=fmt != "json") for row in rows]
    print_rows(out, fmt, TICKET_COLUMNS, drop=NARROW_DROPS, wide=wide)  # type: ignore[arg-type]


def _ticket_json(
    context: Context, row: TicketRow, now: datetime, *, text: bool = False
) -> dict[str, Any]:
    """A ticket row as the CLI prints it, with the running clock in working time: in JSON
    its state, the time left and the due time (ISO 8601) apart; as `text` (a table or CSV)
    one cell with the state's marker and the local due time, `~1h 20m · 14:00`."""
    from cxdesk.workflow.clocks.sla import format_remaining, sla_text

    data = row.to_json()
    reading = context.clocks().read(row.queue, row.priority, row.sla_due, row.sla_risk_at, now)
    data["sla_state"] = reading.state.value if reading else None
    if text:
        data["sla"] = sla_text(reading, row.sla_due, now, context.settings.timezone)
    else:
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
    from cxdesk.workflow.reads.detail import ticket_detail

    number = parse_ref(ticket_id)
    viewer = context.viewer()
    with context.database().session() as session:
        detail = ticket_detail(session, number, viewer)
    if fmt == "table":
        _print_ticket(context, detail)
        return
    data: dict[str, Any] = _ticket_json(context, detail.row, context.now())
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


def desk_command(kind: type[TicketCommand]) -> None:
    """`cxdesk ticket NAME TICKET… …` for one of the desk's commands, its arguments and options
    rendered from the command's declared inputs; then each ticket as it now is. Several
    tickets (or `--from-list`, their ids on standard input) are worked one by one: a refusal
    is told beside its ticket and the others go on."""

    @pass_context
    def run(
        context: Context,
        /,
        ticket_ids: tuple[str, ...],
        from_list: bool,
        version: int | None,
        fmt: str,
        **given: Any,
    ) -> None:
        from cxdesk.workflow.loop.desk_commands import command_from_values
        from cxdesk.workflow.loop.service import TicketService
        from cxdesk.workflow.reads.templates import read_template_text

        after = " ".join(i.metavar or i.name.upper() for i in kind.INPUTS if i.argument)
        numbers = _ticket_numbers(ticket_ids, from_list, after)
        if version is not None and len(numbers) > 1:
            raise click.UsageError("--version is for one ticket; give one TICKET with it")
        if any(i.kind == "message" for i in kind.INPUTS):
            if (given["message"] is None) == (given["template"] is None):
                raise click.UsageError("give either --message or --template")
            if given["message"] == "-" and from_list:
                raise click.UsageError("--message - and --from-list both read standard input")
            if given["message"] is not None:
                given["message"] = stdin_if_dash(given["message"])
        db, actor, now = context.database(), context.actor(), context.now()
        commands = [
            command_from_values(
                kind,
                number,
                given,
                version=version,
                at=now,
                fill_template=functools.partial(
                    read_template_text, db, ticket_id=number, actor=actor
                ),
            )
            for number in numbers
        ]
        service = TicketService(db, context.settings, actor)
        if len(commands) == 1:
            service.handle(commands[0])
            _show_acted(context, numbers[0], fmt, functools.partial(_acted_line, kind.VERB))
            return
        _show_outcomes(kind.VERB, service.handle_each(commands), fmt)

    for spec in reversed(kind.INPUTS):
        if spec.kind == "message":
            run = click.option("--template", help="A template to fill in (see `template list`).")(
                run
            )
            run = click.option("--message", help=spec.help)(run)
        elif spec.argument:
            run = click.argument(spec.name, metavar=spec.metavar or spec.name.upper())(run)
        else:
            choice = click.Choice(spec.choices) if spec.choices else None
            run = click.option(
                spec.option, spec.name, type=choice, required=spec.required, help=spec.help
            )(run)
    run = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")(
        run
    )
    run = click.option(
        "--version",
        "version",
        type=int,
        help="Fail unless the ticket is still at this version (optimistic lock).",
    )(run)
    run = click.option(
        "--from-list",
        is_flag=True,
        help="Also work the tickets whose ids are on standard input (one or more per line).",
    )(run)
    run = click.argument("ticket_ids", metavar="TICKET...", nargs=-1)(run)
    ticket.command(kind.NAME, help=kind.__doc__)(run)


def _ticket_numbers(given: tuple[str, ...], from_list: bool, after: str = "") -> list[int]:
    """The tickets named, in order and each once: those given, then those on standard
    input; a bad reference is an error naming it (and its line) before anything is done.
    None named is told with the arguments that come `after` them (`TICKET... LOGIN`): a
    lone argument is taken for the last of those."""
    from cxdesk.workflow.basics.refs import parse_ref

    named = [(ref, "") for ref in given]
    if from_list:
        for line_number, line in enumerate(sys.stdin, start=1):
            named += [(ref, f" (standard input, line {line_number})") for ref in line.split()]
    if not named:
        then = f" then {after}" if after else ""
        raise click.UsageError(f"give one or more TICKETs{then}, or --from-list with ids on stdin")
    numbers: dict[int, None] = {}
    for ref, where in named:
        try:
            numbers[parse_ref(ref)] = None
        except CxdeskError as exc:
            raise CxdeskError(f"{exc}{where}") from None
    return list(numbers)


def _acted_line(verb: str, row: TicketRow) -> str:
    return (
        f"{row.id} {verb}: {row.stage}, {row.priority}, assignee {row.assignee or '—'}, "
        f"escalation {row.escalation_level}, version {row.version}"
    )


def _show_outcomes(verb: str, outcomes: list[Outcome], fmt: str) -> None:
    """Each ticket's outcome, then exit 1 if any was refused (saying how many)."""
    from cxdesk.workflow.basics.refs import ticket_ref

    if fmt == "json":
        print_json(
            [
                {
                    "id": ticket_ref(o.ticket_id),
                    "done": o.refused is None,
                    "error": None if o.refused is None else str(o.refused),
                }
                for o in outcomes
            ]
        )
    else:
        for o in outcomes:
            said = verb if o.refused is None else f"refused: {o.refused}"
            say(f"{ticket_ref(o.ticket_id)} {said}")
    refused = sum(o.refused is not None for o in outcomes)
    if refused:
        raise CxdeskError(f"{refused} of {len(outcomes)} tickets refused")


for _kind in DESK_COMMANDS:
    desk_command(_kind)


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
    _show_acted(
        context,
        claimed.id,
        fmt,
        lambda row: (
            f"{row.id} claimed: {row.stage}, {row.priority}, {row.queue}, assignee "
            f"{row.assignee}, version {row.version}"
        ),
    )


def _show_acted(context: Context, number: int, fmt: str, line: Callable[[TicketRow], str]) -> None:
    """The ticket as a command left it: as JSON, or the command's one line."""
    from cxdesk.workflow.reads.detail import read_ticket_detail

    row = read_ticket_detail(context.database(), number, context.viewer()).row
    if fmt == "json":
        print_json(_ticket_json(context, row, context.now()))
    else:
        say(line(row))


def _print_ticket(context: Context, detail: TicketDetail) -> None:
    row = detail.row
    say(f"{row.id}  {row.priority}  {row.stage}  {row.queue}  {row.title}", bold=True)
    customer = detail.customer
    if customer is not None:
        say(
            f"customer {customer.id} {customer.name or ''} tier "
            f"{customer.tier or '-'} {customer.phone or ''} {customer.email or ''}"
        )
    sla = _ticket_json(context, row, context.now(), text=True)["sla"]
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
