"""problem scopes: what each problem watches, the figures it opened with, its verification

A problem gathers the open cases of its scope (a touchpoint, queue, driver or tier) and is
verified by the metric that opened it; the partial index holds the verifications the sweep
has yet to conclude.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import cxdesk.models.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERIFY_PENDING = "verify_until IS NOT NULL AND outcome IS NULL"


def upgrade() -> None:
    op.create_table(
        "problem_scopes",
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("gather_since", cxdesk.models.base.UTCDateTime(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("before", sa.Float(), nullable=True),
        sa.Column("verify_since", cxdesk.models.base.UTCDateTime(), nullable=True),
        sa.Column("verify_until", cxdesk.models.base.UTCDateTime(), nullable=True),
        sa.Column("after", sa.Float(), nullable=True),
        sa.Column("answers", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["problem_id"], ["tickets.id"], name=op.f("fk_problem_scopes_problem_id_tickets")
        ),
        sa.PrimaryKeyConstraint("problem_id", name=op.f("pk_problem_scopes")),
    )
    with op.batch_alter_table("problem_scopes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_problem_scopes_verify_pending",
            ["verify_until"],
            unique=False,
            sqlite_where=sa.text(VERIFY_PENDING),
            postgresql_where=sa.text(VERIFY_PENDING),
        )


def downgrade() -> None:
    with op.batch_alter_table("problem_scopes", schema=None) as batch_op:
        batch_op.drop_index("ix_problem_scopes_verify_pending")
    op.drop_table("problem_scopes")
