"""The organisation's settings: teams, their queues, saved views, and which roles see what."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cxdesk.config.base import StrictModel

StaffRole = Literal["agent", "supervisor", "admin"]
# An ingest account feeds events in; it works no tickets.
AccountRole = Literal["agent", "supervisor", "admin", "ingest"]


def _supervisors_and_admins() -> list[StaffRole]:
    return ["supervisor", "admin"]


def _admins_and_ingest() -> list[AccountRole]:
    return ["admin", "ingest"]


class TeamConfig(StrictModel):
    name: str
    supervisor: str | None = None


class QueueConfig(StrictModel):
    name: str
    team: str
    calendar: str = "24x7"
    policy: str = "default"
    assignment: Literal["manual", "round_robin", "least_loaded", "skills"] = "manual"


ViewColumn = Literal[
    "id", "priority", "stage", "queue", "assignee", "customer", "sla", "age", "title"
]


class ViewConfig(StrictModel):
    """A team's saved queue view: a filter in the queue's `/` words, an order, the columns."""

    filter: str = Field(min_length=1, description="as typed after / in the queue")
    title: str | None = Field(default=None, max_length=40)
    sort: Literal["sla", "priority", "age"] | None = None
    columns: list[ViewColumn] | None = Field(default=None, min_length=1)


def _default_teams() -> dict[str, TeamConfig]:
    return {
        "care": TeamConfig(name="Customer care 客户关怀"),
        "vip": TeamConfig(name="VIP recovery VIP挽回"),
    }


def _default_queues() -> dict[str, QueueConfig]:
    return {
        "aftersales": QueueConfig(name="After-sales 售后", team="care", calendar="cn-business"),
        "billing": QueueConfig(
            name="Billing 账单", team="care", calendar="cn-business", assignment="least_loaded"
        ),
        "vip": QueueConfig(name="VIP recovery VIP挽回", team="vip", assignment="round_robin"),
    }
