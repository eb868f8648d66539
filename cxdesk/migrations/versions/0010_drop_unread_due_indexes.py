"""drop the indexes on first_response_due and resolution_due, which no query reads

Listings, the sweep and the dashboard search the running clock's mirror (sla_due,
sla_risk_at); the two due times are only read from rows found otherwise. Each index cost
every ticket insert and every priority change a write.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_tickets_first_response_due", table_name="tickets")
    op.drop_index("ix_tickets_resolution_due", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_first_response_due", "tickets", ["first_response_due"])
    op.create_index("ix_tickets_resolution_due", "tickets", ["resolution_due"])
