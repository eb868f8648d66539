"""The database: engines and their connection settings, sessions and the write lock, bulk
writes, the schema's revisions and the audit chain's key file.

The schema is created and changed only by the Alembic migrations in `cxdesk/migrations`;
nothing here calls `create_all`. The rest of cxdesk imports from `cxdesk.db` itself:

- `engine`: what a URL names, SQLite's pragmas and transaction modes, the JSON codec
- `sharing`: a team's SQLite file shared through a Unix group
- `database`: `Database`, its sessions, the write lock, the schema checks
- `checkpoint`: the write-ahead log copied off the writer's thread
- `driver`: a command's fixed statements run on the DB-API connection
- `bulk_writer`: the one connection a bulk run's write units take in turn (SQLite)
- `write_order`: whether anyone wrote in between (SQLite), writers taking turns (PostgreSQL)
- `bulk`: rows written and looked up by the tens of thousands
- `write_plans`: bulk writes compiled once, reading SQLAlchemy's compiler internals
- `read_plans`: fixed reads compiled once and run on the driver, as the write plans are
- `revisions`: the Alembic migrations and where a database stands among them
- `audit_key`: the file holding the audit chain's key
"""

from cxdesk.db.audit_key import AuditKeyFile, audit_key_file, default_key_file
from cxdesk.db.bulk import Growth, KeyedQuery, add_rows, insert_rows, update_rows
from cxdesk.db.database import PERSON_INFO, Database
from cxdesk.db.driver import first_on_driver, rows_on_driver, run_on_driver
from cxdesk.db.engine import DEFAULT_DB, make_engine, resolve_url, sqlite_path
from cxdesk.db.read_plans import DriverRead
from cxdesk.db.revisions import current_revision, head_revision, newest_migration, upgrade
from cxdesk.db.sharing import group_id
from cxdesk.db.write_order import WriteStamp, serialise, write_stamp
from cxdesk.db.write_plans import (
    COPY_MIN_ROWS,
    WritePlan,
    adding_plan,
    insert_plan,
    update_plan,
)

__all__ = [
    "COPY_MIN_ROWS",
    "DEFAULT_DB",
    "PERSON_INFO",
    "AuditKeyFile",
    "Database",
    "DriverRead",
    "Growth",
    "KeyedQuery",
    "WritePlan",
    "WriteStamp",
    "add_rows",
    "adding_plan",
    "audit_key_file",
    "current_revision",
    "default_key_file",
    "first_on_driver",
    "group_id",
    "head_revision",
    "insert_plan",
    "insert_rows",
    "make_engine",
    "newest_migration",
    "resolve_url",
    "rows_on_driver",
    "run_on_driver",
    "serialise",
    "sqlite_path",
    "update_plan",
    "update_rows",
    "upgrade",
    "write_stamp",
]
