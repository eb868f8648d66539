"""queue view indexes: an agent's open tickets in SLA order from the index alone; escalations

`mine` and `unassigned` sort an agent's (or the pool's) open tickets by due time: with the
due time in the assignee index the sort reads no table rows. `escalated` range-scans the
escalation level instead of scanning every ticket.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_tickets_assignee_stage", table_name="tickets")
    op.create_index("ix_tickets_assignee_stage_due", "tickets", ["assignee", "stage", "sla_due"])
    op.create_index("ix_tickets_escalation_stage", "tickets", ["escalation_level", "stage"])


def downgrade() -> None:
    op.drop_index("ix_tickets_escalation_stage", table_name="tickets")
    op.drop_index("ix_tickets_assignee_stage_due", table_name="tickets")
    op.create_index("ix_tickets_assignee_stage", "tickets", ["assignee", "stage"])
