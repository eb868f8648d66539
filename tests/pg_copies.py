"""PostgreSQL databases for tests, copied from a template and handed back clean for the next
test of the same worker: copying a template (CREATE DATABASE) took the server 0.3-0.5 s of
CPU, half of a PostgreSQL test's setup. A database is used again only when its schema and its
planner's statistics are the template's to the last column, index, trigger and setting; its
rows and sequences are then put back as the template has them, and anything else sends it to
be dropped."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa

# Everything of a database's schema a test could change, as one digest: relations (with
# their definitions and grants), columns, constraints, triggers, functions, types, schemas,
# extensions and the database's own settings; and the planner's statistics, which cxdesk reads
# (a copy analyzed since it was made is not the template's, and they cannot be put back).
_SCHEMA_DIGEST = """
SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM (
  SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' '
         || coalesce(pg_get_indexdef(c.oid), '') || coalesce(pg_get_viewdef(c.oid), '')
         || ' ' || coalesce(c.relacl::text, '') || ' ' || c.relpersistence::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
     AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
  UNION ALL
  SELECT 'col ' || c.oid::regclass::text || '.' || a.attname || ' '
         || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' '
         || a.attgenerated::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname = 'public'
  UNION ALL
  SELECT 'con ' || conrelid::regclass::text || ' ' || conname || ' '
         || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'trg ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
  SELECT 'fn ' || p.oid::regprocedure::text || ' ' || md5(coalesce(p.prosrc, ''))
    FROM pg_proc p WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace,
                                                'information_schema'::regnamespace)
  UNION ALL
  SELECT 'type ' || t.typname FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'ns ' || nspname FROM pg_namespace
   WHERE nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
  UNION ALL
  SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension
  UNION ALL
  SELECT 'est ' || c.relname || ' ' || c.reltuples || ' ' || c.relpages || ' ' || c.relallvisible
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'stats ' || s.starelid::regclass::text || ' ' || s.staattnum || ' ' || s.stainherit
    FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'set ' || array_to_string(s.setconfig, ',') FROM pg_db_role_setting s
    JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database()
) AS schema(x)
"""
_TABLES = "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
# A sequence's last value, or None if it has handed out none
_SEQUENCES = (
    "SELECT quote_ident(sequencename), last_value FROM pg_sequences WHERE schemaname = 'public'"
)


@dataclass
class _Template:
    """What a copy of the template holds: its schema's digest, each table's rows (as COPY
    writes them) and each sequence's place."""

    digest: str
    rows: dict[str, bytes]
    sequences: list[tuple[str, int | None]]
    spare: list[str] = field(default_factory=list)  # copies handed back clean


class PgCopies:
    """The copies of this worker's templates: `take` one, `give_back` it after the test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._templates: dict[str, _Template] = {}
        self._out: set[str] = set()  # taken and not yet given back

    def take(self, template: str | None) -> str:
        """The name of a database that is a fresh copy of `template` (an empty database
        when None)."""
        name = f"cxdesk_test_{uuid.uuid4().hex[:12]}"
        known = self._templates.get(template or "")
        while known is not None and known.spare:
            # Under a new name, which a process the test before left behind cannot reconnect
            # to (refused while one is connected: that copy is dropped).
            spare = known.spare.pop()
            try:
                self._admin(f'ALTER DATABASE "{spare}" RENAME TO "{name}"')
                break
            except psycopg.Error:
                self.drop(spare)
        else:
            source = f' TEMPLATE "{template}"' if template else ""
            self._admin(f'CREATE DATABASE "{name}"{source}')
        self._out.add(name)
        return name

    def give_back(self, name: str, template: str | None) -> None:
        """After a test: keep the database for the next test of the same template if it can
        be made the template's again, else drop it."""
        key = template or ""
        self._out.discard(name)
        try:
            if key not in self._templates:
                self._templates[key] = self._read_template(template or "template1")
            state = self._templates[key]
            if self._reset(name, state):
                state.spare.append(name)
                return
        except (psycopg.Error, sa.exc.SQLAlchemyError):
            pass
        self.drop(name)

    def drop(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop every copy, spare or never given back (at the end of the run)."""
        for state in self._templates.values():
            while state.spare:
                self.drop(state.spare.pop())
        while self._out:
            self.drop(self._out.pop())

    def _admin(self, statement: str) -> None:
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as connection:
            connection.execute(statement)  # type: ignore[arg-type]

    def _conninfo(self, database: str) -> str:
        url = sa.engine.make_url(self.admin_url).set(drivername="postgresql", database=database)
        return url.render_as_string(hide_password=False)

    def _read_template(self, template: str) -> _Template:
        with psycopg.connect(self._conninfo(template)) as connection:
            digest = connection.execute(_SCHEMA_DIGEST).fetchone()[0]  # type: ignore[index]
            rows = {}
            for (table,) in connection.execute(_TABLES).fetchall():
                with connection.cursor().copy(f"COPY {table} TO STDOUT") as copy:  # type: ignore[arg-type]
                    rows[table] = b"".join(bytes(chunk) for chunk in copy)
            sequences = connection.execute(_SEQUENCES).fetchall()
        return _Template(digest, rows, sequences)

    def _reset(self, name: str, state: _Template) -> bool:
        """Make the database `name` hold what the template holds; False if it cannot be."""
        if not self._alone(name):
            return False
        with psycopg.connect(self._conninfo(name)) as connection:
            digest = connection.execute(_SCHEMA_DIGEST).fetchone()[0]  # type: ignore[index]
            if digest != state.digest:
                return False
            # Foreign keys and triggers are not checked while the rows are put back as they
            # were: the template's rows already satisfied them.
            connection.execute("SET LOCAL session_replication_role = replica")
            tables = [table for (table,) in connection.execute(_TABLES).fetchall()]
            if sorted(tables) != sorted(state.rows):
                return False
            for table in tables:
                connection.execute(f"DELETE FROM {table}")  # type: ignore[arg-type]
                if state.rows[table]:
                    with connection.cursor().copy(f"COPY {table} FROM STDIN") as copy:  # type: ignore[arg-type]
                        copy.write(state.rows[table])
            for sequence, last_value in state.sequences:
                if last_value is None:
                    connection.execute(f"ALTER SEQUENCE {sequence} RESTART")  # type: ignore[arg-type]
                else:
                    connection.execute("SELECT setval(%s, %s)", (sequence, last_value))
            connection.commit()
            # The counts of changed rows start at nothing, as a new copy's do: autovacuum would
            # otherwise analyze the copy for what the tests before it wrote.
            connection.execute("SELECT pg_stat_reset()")
        return True

    def _alone(self, name: str) -> bool:
        """End every other session on the database (a server a test left running), waiting
        a moment for them to go; False if some stay."""
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as connection:
            for _ in range(50):
                left = connection.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                ).fetchone()[0]  # type: ignore[index]
                if left == 0:
                    return True
                time.sleep(0.02)
        return False
