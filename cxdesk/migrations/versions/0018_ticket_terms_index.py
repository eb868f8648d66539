"""ticket terms index: the filter's priority, queue and kind by ticket id

A common word of the queue's filter is walked in the word index, and each of its tickets
checked against the filter's `priority:`, `queue:` and `kind:` terms: in this narrow index,
keyed by the ticket's id, instead of in the ticket's row (a page each, read cold).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tickets_terms", "tickets", ["id", "priority", "queue_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_tickets_terms", table_name="tickets")
