"""follow-up delivery: reply tokens, attempts, the next attempt and why it failed

cxdesk now sends the surveys itself (`followup_command`): each follow-up gets a unique reply
token (existing ones too), its attempts and last error, and `next_attempt_at`, set only while
a delivery is pending, under a partial index the sweep reads. Scheduled follow-ups of tickets
still in verify are due at once; those of tickets that left verify are never sent.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cxdesk.models.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELIVERY_PENDING = "next_attempt_at IS NOT NULL"
_FOLLOWUPS = sa.table(
    "followups",
    sa.column("id", sa.Integer()),
    sa.column("reply_token", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("next_attempt_at", cxdesk.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
    connection = op.get_bind()
    ids = connection.execute(sa.select(_FOLLOWUPS.c.id)).scalars().all()
    if ids:
        connection.execute(
            _FOLLOWUPS.update()
            .where(_FOLLOWUPS.c.id == sa.bindparam("row_id"))
            .values(reply_token=sa.bindparam("token")),
            [{"row_id": i, "token": secrets.token_urlsafe(24)} for i in ids],
        )
    op.execute(
        "UPDATE followups SET next_attempt_at = send_at WHERE status = 'scheduled' AND "
        "ticket_id IN (SELECT id FROM tickets WHERE stage = 'verify')"
    )
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.alter_column("reply_token", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("ix_followups_reply_token", ["reply_token"], unique=True)
        batch_op.create_index(
            "ix_followups_delivery_pending",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text(DELIVERY_PENDING),
            postgresql_where=sa.text(DELIVERY_PENDING),
        )


def downgrade() -> None:
    op.execute("UPDATE followups SET status = 'scheduled' WHERE status IN ('sending', 'failed')")
    op.execute("UPDATE followups SET status = 'expired' WHERE status = 'suppressed'")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("ix_followups_delivery_pending")
        batch_op.drop_index("ix_followups_reply_token")
        batch_op.drop_column("reason")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("reply_token")
