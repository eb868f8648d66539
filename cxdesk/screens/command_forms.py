"""The fields a desk command asks for, rendered from its declared inputs
(`loop.desk_commands`): one ticket's form on the ticket screen, and the marked tickets' form
in the queue.

Agent pickers and template lists read the database: build these in a worker, never on the
event loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cxdesk.i18n import N_
from cxdesk.screens.context import Desk
from cxdesk.screens.forms import Field
from cxdesk.workflow.insight.dashboard import AgentLoad, read_assignable_agents
from cxdesk.workflow.loop.commands import Input
from cxdesk.workflow.loop.desk_commands import BY_NAME, DESK_COMMANDS
from cxdesk.workflow.reads.templates import read_templates
from cxdesk.workflow.reads.tickets import TicketRow

FORMS_FROM_THE_DATABASE = {  # agents and loads; templates
    c.NAME for c in DESK_COMMANDS if any(i.kind in ("agent", "message") for i in c.INPUTS)
}


def command_fields(
    desk: Desk,
    command: str,
    rows: Sequence[TicketRow],
    current: Mapping[str, str | None] | None = None,
) -> list[Field]:
    """The command's inputs as fields for these tickets; labels in English, the form shows
    them translated. `current` holds the ticket's resolution fields a form starts from."""
    return [f for spec in BY_NAME[command].INPUTS for f in _fields(desk, spec, rows, current or {})]


def _fields(
    desk: Desk, spec: Input, rows: Sequence[TicketRow], current: Mapping[str, str | None]
) -> list[Field]:
    match spec.kind:
        case "agent":
            return [_agent_field(desk, rows)]
        case "message":
            templates = read_templates(desk.db)
            return [  # the text first: typing starts at once
                Field(
                    "message",
                    N_("Text (or leave it empty and pick a template)"),
                    kind="multiline",
                    either="template",  # checked in the form: it stays open, text kept
                ),
                Field(
                    "template",
                    N_("Template"),
                    kind="select",
                    required=False,
                    choices=[(f"{t.name} — {t.title}", t.name) for t in templates],
                ),
            ]
        case "code":
            choices = [(c, c) for c in spec.choices]
            return [Field(spec.name, spec.label, "select", spec.required, choices)]
    value = (current.get(spec.current) or "") if spec.current else ""
    return [Field(spec.name, spec.label, required=spec.required, value=value)]


def _agent_field(desk: Desk, rows: Sequence[TicketRow]) -> Field:
    """The agents of the tickets' teams, lightest load first, away ones last and marked; the
    one assignee all the tickets already have is left out."""
    teams: list[str | None] = []
    for row in rows:
        queue = desk.clocks.queues.get(row.queue)  # None: a queue that is gone, no agents
        if queue is not None and queue.team_id not in teams:
            teams.append(queue.team_id)
    assignees = {row.assignee for row in rows}
    besides = next(iter(assignees)) if len(assignees) == 1 else None
    agents: dict[str, AgentLoad] = {}
    for team in teams or [None]:  # no team: no agents to offer
        for a in read_assignable_agents(desk.db, team, besides=besides, queues=desk.queues):
            agents.setdefault(a.login, a)
    chosen = sorted(agents.values(), key=lambda a: (a.away, a.load, a.login))
    t = desk.t
    hints = {}
    for a in chosen:
        hint = t("{open} open · load {load}", open=a.open, load=a.load)
        hints[a.login] = f"{t('away')} · {hint}" if a.away else hint
    return Field(
        "login",
        N_("Agent"),
        kind="pick",
        choices=[(f"{a.name} ({a.login})", a.login) for a in chosen],
        hints=hints,
    )
