"""breach indexes per clock: the resolution clock escalates whether or not the first
response came

The one breach index followed the running clock, so a case nobody answered left it once its
first-response breach was escalated, and its resolution breach was never escalated. Each
clock now has its own partial index of the running tickets it has not yet escalated.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_BREACH_PENDING = (
    "sla_due IS NOT NULL AND (first_response_at IS NULL AND first_response_breached_at IS NULL"
    " OR first_response_at IS NOT NULL AND resolution_breached_at IS NULL)"
)
FIRST_RESPONSE_BREACH_PENDING = (
    "sla_due IS NOT NULL AND first_response_at IS NULL AND first_response_breached_at IS NULL"
)
RESOLUTION_BREACH_PENDING = "sla_due IS NOT NULL AND resolution_breached_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_breach_pending")
        batch_op.create_index(
            "ix_tickets_first_response_breach_pending",
            ["first_response_due"],
            unique=False,
            sqlite_where=sa.text(FIRST_RESPONSE_BREACH_PENDING),
            postgresql_where=sa.text(FIRST_RESPONSE_BREACH_PENDING),
        )
        batch_op.create_index(
            "ix_tickets_resolution_breach_pending",
            ["resolution_due"],
            unique=False,
            sqlite_where=sa.text(RESOLUTION_BREACH_PENDING),
            postgresql_where=sa.text(RESOLUTION_BREACH_PENDING),
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_resolution_breach_pending")
        batch_op.drop_index("ix_tickets_first_response_breach_pending")
        batch_op.create_index(
            "ix_tickets_breach_pending",
            ["sla_due"],
            unique=False,
            sqlite_where=sa.text(OLD_BREACH_PENDING),
            postgresql_where=sa.text(OLD_BREACH_PENDING),
        )
