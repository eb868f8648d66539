"""What a problem ticket watches: its scope, the figures that opened it, its verification."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_
from sqlmodel import Field, String, col

from cxdesk.models.base import TableModel, UTCDateTime, partial_index


class ProblemScope(TableModel, table=True):
    """One problem's metric and scope (which cases it gathers), the figure and threshold it was
    opened with (the "before"), and the verification of its fix: the window the sweep watches
    the metric over, the "after" figure, how many answers it counted and what it concluded.

    `dimension` is all | touchpoint | queue | driver | tier, `value` the touchpoint, queue,
    driver or tier (None for all). Figures are the metric's own unit (NPS points, CSAT %,
    complaints or gold detractors a day, detractor share %)."""

    __tablename__ = "problem_scopes"

    problem_id: int = Field(foreign_key="tickets.id", primary_key=True)
    metric: str = Field(max_length=64)
    dimension: str = Field(sa_type=String(16))
    value: str | None = Field(default=None, max_length=128)
    gather_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    threshold: float | None = None
    before: float | None = None
    verify_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verify_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    after: float | None = None
    answers: int | None = None
    outcome: str | None = Field(default=None, sa_type=String(16))


# The verifications the sweep has yet to conclude, as a partial index (its finder repeats the
# condition term for term, so that SQLite uses it): a pass reads the due ones only.
VERIFY_PENDING = (
    col(ProblemScope.verify_until).is_not(None),
    col(ProblemScope.outcome).is_(None),
)
partial_index(
    "ix_problem_scopes_verify_pending",
    col(ProblemScope.verify_until),
    where=and_(*VERIFY_PENDING),
)
