"""Reply templates as the respond and note forms offer them."""

from __future__ import annotations

from cxdesk.db import Database
from cxdesk.workflow.loop.templates import TemplateInfo, find_templates, render_template


def read_templates(db: Database) -> list[TemplateInfo]:
    """Every template, by name."""
    with db.session() as session:
        return find_templates(session)


def read_template_text(db: Database, name: str, ticket_id: int, actor: str) -> str:
    """Template `name` filled in for the ticket, its customer and `actor`."""
    with db.session() as session:
        return render_template(session, name, ticket_id, actor)
