"""`cxdesk template`: the reply templates agents fill in."""

from __future__ import annotations

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import format_option, stdin_if_dash
from cxdesk.output import print_rows, say


@click.group()
def template() -> None:
    """Reply templates: `{customer.name}`, `{ticket.id}`, `{agent.name}` … are filled in."""


@template.command("list")
@click.option("--search", help="Only templates whose name, title or text contain this.")
@format_option
@pass_context
def template_list(context: Context, search: str | None, fmt: str) -> None:
    """List (or search) the templates."""
    from cxdesk.workflow.loop.templates import find_templates

    context.viewer()
    with context.database().session() as session:
        rows = [t.__dict__ for t in find_templates(session, search)]
    print_rows(rows, fmt, ("name", "title", "body"))  # type: ignore[arg-type]


@template.command("add")
@click.argument("name")
@click.option("--title", default="", help="A one-line description.")
@click.option("--body", required=True, help="The text (- reads it from standard input).")
@pass_context
def template_add(context: Context, name: str, title: str, body: str) -> None:
    """Add or replace a template (supervisors and admins)."""
    from cxdesk.workflow.loop.templates import save_template

    by = context.viewer()
    with context.database().write() as session:
        save_template(
            session, by, name=name, title=title, body=stdin_if_dash(body), at=context.now()
        )
    say(f"template {name} saved")
