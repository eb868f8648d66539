"""ticket search: the word index the queue's filter reads instead of scanning the tickets

An FTS5 table on SQLite, a `tsvector` table under a GIN index on PostgreSQL, filled here
from every ticket in bulk (see `cxdesk.db.search_index`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from cxdesk.db.search_index import create_index, drop_index, rebuild_index

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    create_index(connection)
    rebuild_index(connection)


def downgrade() -> None:
    drop_index(op.get_bind())
