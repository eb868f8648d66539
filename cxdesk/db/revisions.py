"""The schema's revisions: the Alembic migrations in `cxdesk/migrations`, and where a
database stands among them. Nothing else creates or changes the schema (no `create_all`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from cxdesk.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def _alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "cxdesk:migrations")
    config.attributes["engine"] = engine
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def newest_migration() -> str:
    """The head revision read off the migration file names (`0008_…py` is revision 0008):
    opening a database that is up to date then costs no Alembic import."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def stored_revision(engine: Engine) -> str | None:
    """The revision in alembic_version, or None where it cannot be read cheaply."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:
        return None
    return rows[0][0] if len(rows) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is already there."""
    from alembic import command

    refuse_newer_schema(engine)
    command.upgrade(_alembic_config(engine), revision)


def refuse_newer_schema(engine: Engine) -> None:
    """A clear error for a database migrated by a newer cxdesk than this one."""
    revision = current_revision(engine)
    if revision is not None and revision not in {s.revision for s in _scripts().walk_revisions()}:
        raise DatabaseError(
            f"the database is at schema revision {revision}, which is newer than this "
            "cxdesk knows; upgrade cxdesk before opening it"
        )
