"""Saved queue views: the team's, from the config, then each agent's own, from the database.

A view is a filter in the queue's `/` words, an order and the columns to show. An agent's own
views are their preference, not ticket data: saving one is not audited, and nobody else
reads or changes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import ConfigError, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import SavedView
from cxdesk.output import sanitize
from cxdesk.workflow.reads.search import Search
from cxdesk.workflow.reads.tickets import Sort

MAX_NAME = 40
MAX_FILTER = 500


@dataclass(frozen=True)
class QueueView:
    name: str
    title: str
    search: Search
    sort: Sort | None = None
    columns: tuple[str, ...] | None = None  # the config's column names; None: all
    personal: bool = False


def team_views(settings: Settings) -> list[QueueView]:
    """The config's views, in its order; a filter that does not parse is a config error
    naming the view."""
    views = []
    for name, view in settings.views.items():
        try:
            search = Search.parse(view.filter)
        except WorkflowError as exc:
            raise ConfigError(
                say("views.{name}.filter: {error}", name=name, error=str(exc))
            ) from None
        views.append(
            QueueView(
                name,
                view.title or name,
                search,
                Sort(view.sort) if view.sort else None,
                tuple(view.columns) if view.columns else None,
            )
        )
    return views


def read_views(db: Database, settings: Settings, login: str) -> list[QueueView]:
    """The team's views, then `login`'s own in the order they were saved."""
    with db.session() as session:
        own = session.exec(
            select(SavedView).where(SavedView.login == login).order_by(col(SavedView.id))
        ).all()
    mine = []
    for row in own:
        try:
            search = Search.parse(row.filter)
        except WorkflowError:
            continue  # a filter word the grammar no longer knows: left out, kept stored
        sort = Sort(row.sort) if row.sort in {s.value for s in Sort} else None
        mine.append(QueueView(row.name, row.name, search, sort, personal=True))
    return team_views(settings) + mine


def save_view(
    db: Database, login: str, name: str, filter_text: str, sort: Sort | None, now: datetime
) -> QueueView:
    """Save (or replace) `login`'s view `name`; the filter must parse as the queue's does."""
    shown = sanitize(name).strip()
    if not shown or len(shown) > MAX_NAME or shown != name.strip():
        raise WorkflowError(
            say(
                "a view's name is 1 to {most} characters of plain text",
                most=MAX_NAME,
            )
        )
    text = " ".join(filter_text.split())
    if not text or len(text) > MAX_FILTER:
        raise WorkflowError(say("a view's filter is 1 to {most} characters", most=MAX_FILTER))
    search = Search.parse(text)
    with db.write() as session:
        row = session.exec(
            select(SavedView).where(SavedView.login == login, SavedView.name == shown)
        ).first()
        if row is None:
            row = SavedView(login=login, name=shown, filter=text, created_at=now)
        row.filter, row.sort = text, sort.value if sort else None
        session.add(row)
    return QueueView(shown, shown, search, sort, personal=True)


def delete_view(db: Database, login: str, name: str) -> bool:
    """Forget `login`'s own view `name`; False if they have none by that name."""
    with db.write() as session:
        row = session.exec(
            select(SavedView).where(SavedView.login == login, SavedView.name == name)
        ).first()
        if row is None:
            return False
        session.delete(row)
    return True
