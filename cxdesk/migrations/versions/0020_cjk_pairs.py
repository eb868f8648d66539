"""cjk pairs: PostgreSQL's word index holds each two CJK characters in a row as a lexeme

A word such as 快递 was asked of the GIN index as the phrase 快 <-> 递, which the index
cannot decide: every ticket holding both characters was read to check their places (60,000
for `app 登录` on a million tickets). Held as one lexeme, the pair is answered by the index
alone (see `cxdesk.db.search_index`). SQLite's FTS5 index is unchanged.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

from cxdesk.db.search_index import rebuild_index

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        rebuild_index(connection)


def downgrade() -> None:
    """The pairs stay: the phrases of single characters asked before find the same."""
