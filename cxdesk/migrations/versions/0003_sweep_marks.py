"""sweep marks: what the sweep has already notified and escalated, so it acts once

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cxdesk.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("risk_notified_for", cxdesk.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("first_response_breached_at", cxdesk.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resolution_breached_at", cxdesk.models.base.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("resolution_breached_at")
        batch_op.drop_column("first_response_breached_at")
        batch_op.drop_column("risk_notified_for")
