"""`cxdesk ticket NAME TICKET…` for each of the desk's commands (claim, resolve, …), rendered
from their declared inputs. `ticket` adds them when one is named or all are listed: reading
tickets need not build them, nor import the commands' declarations."""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import stdin_if_dash
from cxdesk.cli.ticket_rows import show_acted
from cxdesk.errors import CxdeskError
from cxdesk.output import print_json, say
from cxdesk.workflow.loop.commands import TicketCommand
from cxdesk.workflow.loop.desk_commands import DESK_COMMANDS

if TYPE_CHECKING:
    from cxdesk.workflow.loop.service import Outcome
    from cxdesk.workflow.reads.tickets import TicketRow


def add_desk_commands(group: click.Group) -> None:
    for kind in DESK_COMMANDS:
        group.add_command(desk_command(kind))


def desk_command(kind: type[TicketCommand]) -> click.Command:
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
            show_acted(context, numbers[0], fmt, functools.partial(_acted_line, kind.VERB))
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
    return click.command(kind.NAME, help=kind.__doc__)(run)


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
