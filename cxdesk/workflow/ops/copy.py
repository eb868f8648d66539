"""Moving a team's database to another backend (SQLite file → PostgreSQL), row for row."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, func, select, text
from sqlmodel import SQLModel

from cxdesk.db import Database, current_revision, head_revision, insert_rows
from cxdesk.db.search_index import rebuild_index
from cxdesk.errors import CxdeskError
from cxdesk.workflow.basics.progress import Progress
from cxdesk.workflow.ops.schema import upgrade_database

CHUNK = 5000


def copy_database(
    source: Database,
    target: Database,
    on_table: Callable[[str, int], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Copy every table into an empty target at the same schema; returns rows per table.
    `on_table` is told each table's rows once copied, `progress` the rows copied so far of
    all (counted first), chunk by chunk.

    The target is migrated to head first; the source must be at head too, so the two
    schemas are the same. Integer keys are copied as they are and the target's sequences
    moved past them, so new rows there get fresh ids. The source's audit key is written to
    the target's key file, so that the copied chain verifies there and goes on.
    """
    source.check_schema()
    carried = _carry_audit_key(source, target)
    try:
        return _copy_rows(source, target, on_table, progress)
    except BaseException:
        if carried and target.audit_key is not None:
            target.audit_key.remove()  # a refused copy leaves the target as it found it
        raise


def _copy_rows(
    source: Database,
    target: Database,
    on_table: Callable[[str, int], None] | None,
    progress: Progress | None,
) -> dict[str, int]:
    upgrade_database(target, key_chain=False)  # the copied chain is keyed with the source's key
    if current_revision(target.engine) != head_revision():
        raise CxdeskError("the target database is not at the current schema")
    copied: dict[str, int] = {}
    with source.engine.connect() as reader, target.engine.begin() as writer:
        for table in SQLModel.metadata.sorted_tables:
            if writer.execute(select(func.count()).select_from(table)).scalar():
                raise CxdeskError(
                    f"the target already holds {table.name}; copy into an empty database"
                )
        total = 0 if progress is None else _source_rows(reader)
        for table in SQLModel.metadata.sorted_tables:
            count = 0
            result = reader.execution_options(yield_per=CHUNK).execute(select(table))
            for rows in result.partitions(CHUNK):
                insert_rows(writer, table, [dict(row._mapping) for row in rows])
                count += len(rows)
                if progress is not None:
                    progress("copy", sum(copied.values()) + count, total)
            copied[table.name] = count
            if on_table is not None:
                on_table(table.name, count)
        rebuild_index(writer)  # the word index is made from the copied tickets, not copied
        if writer.dialect.name == "postgresql":
            _advance_sequences(writer)
            # Statistics now, not when autovacuum comes by: until then PostgreSQL plans
            # look-ups in the copied tables as scans of them whole.
            writer.exec_driver_sql("ANALYZE")
    return copied


def _source_rows(reader: Connection) -> int:
    return sum(
        int(reader.execute(select(func.count()).select_from(table)).scalar_one())
        for table in SQLModel.metadata.sorted_tables
    )


def _carry_audit_key(source: Database, target: Database) -> bool:
    """Give the target the source's audit key, which the copied chain needs: written to the
    target's key file (mode and group as for a new key), or already there. True when
    written here."""
    if source.audit_key is None or not source.audit_key.exists():
        return False  # a chain never keyed: `cxdesk db upgrade` keys it, here or there
    key = source.audit_key.key()
    if target.audit_key is None:
        raise CxdeskError("the target keeps no audit key (an in-memory database)")
    if not target.audit_key.exists():
        target.audit_key.create(key)
        return True
    if target.audit_key.key() != key:
        raise CxdeskError(
            f"{target.audit_key.path} holds another audit key than the source's "
            f"{source.audit_key.path}; move it away and copy again"
        )
    return False


def _advance_sequences(connection: Connection) -> None:
    """Move each serial key's sequence past the copied ids."""
    for table in SQLModel.metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": table.name, "c": column.name},
            ).scalar()
            if sequence:
                connection.execute(
                    text(
                        f"SELECT setval(:s, coalesce((SELECT max({column.name}) FROM "
                        f"{table.name}), 0) + 1, false)"
                    ),
                    {"s": sequence},
                )
