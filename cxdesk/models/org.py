"""Who works tickets: teams, their queues, and agents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import JSON, Column, Field, Index, String, Text

from cxdesk.models.base import TableModel, UTCDateTime, empty_list


class Team(TableModel, table=True):
    __tablename__ = "teams"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    supervisor: str | None = Field(default=None, foreign_key="agents.login", max_length=64)


class Queue(TableModel, table=True):
    __tablename__ = "queues"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    team_id: str = Field(foreign_key="teams.id", index=True, max_length=64)
    calendar: str = Field(default="24x7", max_length=64)
    policy: str = Field(default="default", max_length=64)
    assignment: str = Field(default="manual", sa_type=String(16))


class Agent(TableModel, table=True):
    __tablename__ = "agents"

    login: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(max_length=200)
    role: str = Field(default="agent", sa_type=String(16))
    skills: list[str] = Field(default_factory=empty_list, sa_type=JSON)
    away: bool = False
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)


class AgentTeam(TableModel, table=True):
    __tablename__ = "agent_teams"

    agent_login: str = Field(foreign_key="agents.login", primary_key=True, max_length=64)
    team_id: str = Field(foreign_key="teams.id", primary_key=True, max_length=64, index=True)


class Meta(TableModel, table=True):
    """Facts about the database itself, such as whether `cxdesk demo` made it."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=500)


class ReplyTemplate(TableModel, table=True):
    """A reply or note from the knowledge base, with `{customer.name}`-style placeholders."""

    __tablename__ = "templates"

    name: str = Field(primary_key=True, max_length=64)
    title: str = Field(default="", max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=64)


class Notification(TableModel, table=True):
    """Something an agent must hear about (an escalation to them, a breach on their ticket)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_login_read", "login", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(foreign_key="agents.login", max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=32)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    # The body's system text as template and values (cxdesk.i18n.Message), for other languages
    said: list[Any] | None = Field(default=None, sa_type=JSON)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SavedView(TableModel, table=True):
    """A queue filter an agent saved under a name of their own (team views live in the
    config)."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("login", "name", name="uq_saved_views_login_name"),)

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(foreign_key="agents.login", max_length=64)
    name: str = Field(max_length=64)
    filter: str = Field(sa_column=Column(Text, nullable=False))
    sort: str | None = Field(default=None, sa_type=String(16))
    created_at: datetime = Field(sa_type=UTCDateTime)
