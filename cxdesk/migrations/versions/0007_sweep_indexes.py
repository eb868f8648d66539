"""sweep indexes: partial indexes of the clocks the sweep has yet to act on, follow-up expiry

A sweep pass then reads only tickets whose at-risk point or due time passed and has not been
handled, and only follow-ups still open past their expiry, however many tickets are open.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BREACH_UNMARKED = (
    "(first_response_at IS NULL AND first_response_breached_at IS NULL"
    " OR first_response_at IS NOT NULL AND resolution_breached_at IS NULL)"
)
BREACH_PENDING = f"sla_due IS NOT NULL AND {BREACH_UNMARKED}"
RISK_PENDING = (
    "sla_risk_at IS NOT NULL"
    " AND (risk_notified_for IS NULL OR risk_notified_for != sla_due)"
    f" AND {BREACH_UNMARKED}"
)


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_breach_pending",
            ["sla_due"],
            unique=False,
            sqlite_where=sa.text(BREACH_PENDING),
            postgresql_where=sa.text(BREACH_PENDING),
        )
        batch_op.create_index(
            "ix_tickets_risk_pending",
            ["sla_risk_at"],
            unique=False,
            sqlite_where=sa.text(RISK_PENDING),
            postgresql_where=sa.text(RISK_PENDING),
        )
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index("ix_followups_status_expires", ["status", "expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("ix_followups_status_expires")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_risk_pending")
        batch_op.drop_index("ix_tickets_breach_pending")
