"""saved views: queue filters each agent saves under a name

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cxdesk.models.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("sort", sa.String(length=16), nullable=True),
        sa.Column("created_at", cxdesk.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["login"], ["agents.login"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login", "name", name="uq_saved_views_login_name"),
    )


def downgrade() -> None:
    op.drop_table("saved_views")
