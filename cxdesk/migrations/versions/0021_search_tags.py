"""search tags: PostgreSQL's word index holds each ticket's priority, queue and kind

`parcel priority:P1` over a million tickets read every ticket holding the word to check its
priority (30,000 for a count of 1,000): with the tags in the index, the GIN index answers
the word and the term together. A trigger keeps them as tickets change (see
`cxdesk.db.search_index`). SQLite's FTS5 index is unchanged.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

from cxdesk.db.search_index import create_retagging, drop_retagging, rebuild_index

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        create_retagging(connection)
        rebuild_index(connection)


def downgrade() -> None:
    """The tags stay in the index, unasked for; the trigger that kept them goes."""
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        drop_retagging(connection)
