"""`cxdesk user`: the agents who may use cxdesk, their roles and teams."""

from __future__ import annotations

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import format_option
from cxdesk.output import print_rows, say


@click.group()
def user() -> None:
    """Agents: who may use cxdesk, with which role, in which teams."""


@user.command("add")
@click.argument("login")
@click.option("--name", help="Display name (default: the login).")
@click.option(
    "--role",
    type=click.Choice(["agent", "supervisor", "admin", "ingest"]),
    default="agent",
    show_default=True,
)
@click.option("--team", "teams", multiple=True, help="A team id; repeat for several.")
@click.option("--skill", "skills", multiple=True, help="A skill (language, channel); repeatable.")
@pass_context
def user_add(
    context: Context,
    login: str,
    name: str | None,
    role: str,
    teams: tuple[str, ...],
    skills: tuple[str, ...],
) -> None:
    """Add an agent (or update one with the same LOGIN)."""
    from cxdesk.workflow.access.staff import add_agent

    db = context.database()
    by = context.viewer()
    with db.write() as session:
        add_agent(
            session,
            by=by,
            login=login,
            display_name=name or login,
            role=role,
            teams=list(teams),
            skills=list(skills),
            at=context.now(),
        )
    say(f"agent {login} saved")


@user.command("away")
@click.argument("login")
@click.option("--back", is_flag=True, help="Mark them present again.")
@pass_context
def user_away(context: Context, login: str, back: bool) -> None:
    """Mark an agent away (new tickets skip them) or, with --back, present."""
    from cxdesk.workflow.access.staff import set_away

    by = context.viewer()
    with context.database().write() as session:
        set_away(session, by, login, away=not back, at=context.now())
    say(f"{login} is {'back' if back else 'away'}")


@user.command("list")
@format_option
@pass_context
def user_list(context: Context, fmt: str) -> None:
    """List agents."""
    from cxdesk.workflow.access.org import list_agents

    context.viewer()
    with context.database().session() as session:
        agents = list_agents(session)
    print_rows(
        [a.__dict__ for a in agents],
        fmt,  # type: ignore[arg-type]
        ("login", "display_name", "role", "teams", "skills", "away", "active"),
    )
