"""Alembic environment: runs on the engine cxdesk hands it, never on an ini file."""

from alembic import context
from sqlmodel import SQLModel

import cxdesk.models  # noqa: F401  (registers every table on the metadata)
from cxdesk.db.search_index import not_search_table
from cxdesk.models.base import give_partial_conditions

engine = context.config.attributes["engine"]
give_partial_conditions(SQLModel.metadata)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=not_search_table,
    )
    with context.begin_transaction():
        context.run_migrations()
