"""feedback rollups: the voice of each hour by scope, counted from the stored events

The metric alerts add up hours instead of scanning the events; the table is filled here
from every event in one statement (the counts as `workflow.loop.rollups` defines them, kept
here as they were when this revision was written).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import cxdesk.models.base

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = """
    SUM(CASE WHEN e.kind = 'complaint' THEN 1 ELSE 0 END), COUNT(e.nps),
    SUM(CASE WHEN e.nps >= 9 THEN 1 ELSE 0 END), SUM(CASE WHEN e.nps <= 6 THEN 1 ELSE 0 END),
    COUNT(e.csat), SUM(CASE WHEN e.csat >= 4 THEN 1 ELSE 0 END)
"""


def upgrade() -> None:
    op.create_table(
        "feedback_rollups",
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("hour", cxdesk.models.base.UTCDateTime(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.Column("nps_answers", sa.Integer(), nullable=False),
        sa.Column("promoters", sa.Integer(), nullable=False),
        sa.Column("detractors", sa.Integer(), nullable=False),
        sa.Column("csat_answers", sa.Integer(), nullable=False),
        sa.Column("csat_satisfied", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "hour", "value", name=op.f("pk_feedback_rollups")),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        hour = "date_trunc('hour', e.occurred_at)"
    else:  # the text SQLAlchemy stores a DateTime as on SQLite
        hour = "strftime('%Y-%m-%d %H:00:00.000000', e.occurred_at)"
    op.execute(
        f"""
        INSERT INTO feedback_rollups (dimension, hour, value, complaints, nps_answers,
            promoters, detractors, csat_answers, csat_satisfied)
        SELECT 'all', {hour}, '', {COUNTS} FROM feedback_events e GROUP BY {hour}
        UNION ALL
        SELECT 'touchpoint', {hour}, e.touchpoint, {COUNTS} FROM feedback_events e
            WHERE e.touchpoint IS NOT NULL GROUP BY {hour}, e.touchpoint
        UNION ALL
        SELECT 'queue', {hour}, t.queue_id, {COUNTS} FROM feedback_events e
            JOIN tickets t ON t.id = e.ticket_id GROUP BY {hour}, t.queue_id
        """
    )


def downgrade() -> None:
    op.drop_table("feedback_rollups")
