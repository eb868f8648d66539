"""`Database`: one database's engine, its sessions, the write lock and the schema checks."""

from __future__ import annotations

import random
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import SessionTransaction, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from cxdesk.db.audit_key import AuditKeyFile, default_key_file, remember_key_file
from cxdesk.db.bulk import Growth
from cxdesk.db.bulk_writer import BulkWriter
from cxdesk.db.checkpoint import Checkpointer, UnitCheckpoints, truncate_log
from cxdesk.db.engine import (
    SQLITE_BEGIN,
    SQLITE_BUSY_TIMEOUT_MS,
    make_engine,
    resolve_url,
    sqlite_path,
)
from cxdesk.db.revisions import (
    current_revision,
    head_revision,
    newest_migration,
    refuse_newer_schema,
    stored_revision,
    upgrade,
)
from cxdesk.errors import DatabaseError

WRITE_LOCK_ATTEMPTS = 6  # each waits up to the busy timeout, then backs off
# How long a write waits for another unit of its own process in a bulk run: as long as all
# its attempts would wait for another process's.
_WRITE_WAIT_S = WRITE_LOCK_ATTEMPTS * SQLITE_BUSY_TIMEOUT_MS / 1000
PERSON_INFO = "cxdesk_person"  # Session.info key: the person behind the session's commands


class Database:
    """One database: an engine, a session factory, and the schema checks."""

    def __init__(self, url: str, group: str | None = None, key_file: Path | None = None) -> None:
        self.url = url
        self.group = group
        self.engine = make_engine(url, group)
        key_path = key_file or default_key_file(url)
        self.audit_key = AuditKeyFile(key_path, group) if key_path is not None else None
        if self.audit_key is not None:
            remember_key_file(self.engine, self.audit_key)
        self._sessions = sessionmaker(self.engine, class_=Session, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}),
            class_=Session,
            expire_on_commit=False,
        )
        self._checkpointer: Checkpointer | None = None  # a bulk run's
        self._bulk_writer: BulkWriter | None = None
        path = sqlite_path(url)
        self._unit_checkpoints = UnitCheckpoints(path) if path is not None else None
        if self._unit_checkpoints is not None:  # its thread ends with this object, if not before
            weakref.finalize(self, self._unit_checkpoints.stop)

    @classmethod
    def open(
        cls,
        db: str | None = None,
        *,
        must_exist: bool = True,
        group: str | None = None,
        key_file: Path | None = None,
    ) -> Database:
        """Open `db` (path or URL); with `must_exist`, insist on an initialised schema. An
        SQLite file and its -wal/-shm are given to the Unix `group` when one is named. The
        audit chain's key is in `key_file`, by default `default_key_file(url)`."""
        url = resolve_url(db)
        path = sqlite_path(url)
        if must_exist and path is not None and not path.exists():
            raise DatabaseError(
                f"no database at {path}: run `cxdesk init` or `cxdesk demo` to create one"
            )
        database = cls(url, group, key_file)
        if must_exist:
            database.check_schema()
        return database

    def record_person(self, login: str) -> None:
        """Who is at the keyboard, whoever they act as (`--as`): the audit rows written from
        now on name them beside the actor (see `cxdesk.workflow.audit.chain`)."""
        for sessions in (self._sessions, self._write_sessions):
            sessions.configure(info={PERSON_INFO: login})

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def check_schema(self) -> None:
        """Refuse a database that is unreachable, uninitialised, newer or older than the code."""
        if stored_revision(self.engine) == newest_migration():
            return  # the everyday case, answered without loading Alembic
        try:
            revision = current_revision(self.engine)
        except OperationalError as exc:
            raise DatabaseError(f"cannot open database {self.display_url}: {exc.orig}") from exc
        if revision is None:
            if inspect(self.engine).get_table_names():
                raise DatabaseError(f"{self.display_url} is not a cxdesk database")
            raise DatabaseError(
                f"{self.display_url} has no cxdesk schema: run `cxdesk init` to create it"
            )
        refuse_newer_schema(self.engine)
        if revision != head_revision():
            raise DatabaseError(
                f"{self.display_url} is at schema revision {revision}; "
                "run `cxdesk db upgrade` to bring it up to date"
            )

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema to `revision` (keying the audit chain is the audit wing's:
        `upgrade_database`)."""
        try:
            upgrade(self.engine, revision)
        except OperationalError as exc:
            raise DatabaseError(f"cannot migrate {self.display_url}: {exc.orig}") from exc

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self, person: str | None = None) -> Iterator[Session]:
        """A unit of work that changes data. On SQLite the write lock is taken before the block
        runs; while another writer holds it past the busy timeout the attempt is retried with
        backoff, so "database is locked" does not reach a user and no work is half done.
        `person` names who asked for this unit alone (a server's caller), over
        `record_person`'s, which is the whole process's."""
        if self._checkpointer is not None:
            # Before the unit, not after its commit: a ctrl+c while waiting then interrupts
            # a unit not yet begun, never one committed but not yet returned.
            self._checkpointer.settle()
        writer = self._bulk_writer
        with writer.turn(_WRITE_WAIT_S) if writer is not None else nullcontext() as bind:
            session, transaction = self._locked_session(person, bind)
            with session, transaction:
                yield session
        if self._checkpointer is not None:
            self._checkpointer.nudge()
        elif self._unit_checkpoints is not None:
            self._unit_checkpoints.committed()

    @contextmanager
    def bulk_writes(self, *tables: Table) -> Iterator[Growth]:
        """For a run of big write transactions (ingest) that fills `tables`, the first the
        biggest. On SQLite, each commit past a few MB of log would copy the write-ahead log
        into the database file before returning; inside this block a thread does that on its
        own connection after each commit, while the next transaction is being prepared. On
        PostgreSQL, the `Growth` it yields keeps the tables' statistics up to date as they
        grow. On SQLite every write unit in the block, from any thread, takes one connection
        in turn (`BulkWriter`), whose page cache stays warm from one to the next."""
        growth = Growth(self.engine, tables)
        path = sqlite_path(self.url)
        if path is None or self._checkpointer is not None:
            yield growth
            return
        self._checkpointer = Checkpointer(path)
        try:
            self._bulk_writer = BulkWriter(
                self.engine, self.display_url, setup=self._checkpointer.exempt
            )
            yield growth
        finally:
            if self._bulk_writer is not None:
                self._bulk_writer.close()
                self._bulk_writer = None
            self._checkpointer.stop()
            self._checkpointer = None

    def _locked_session(
        self, person: str | None, bind: Connection | None
    ) -> tuple[Session, SessionTransaction]:
        """A session in a write transaction, on `bind` where given (a bulk run's connection),
        else on one from the pool."""
        options: dict[str, Any] = {} if person is None else {"info": {PERSON_INFO: person}}
        if bind is not None:
            options["bind"] = bind
        for attempt in range(WRITE_LOCK_ATTEMPTS):
            session = self._write_sessions(**options)
            transaction = session.begin()
            try:
                session.connection()  # BEGIN IMMEDIATE on SQLite: the write lock, or busy
                return session, transaction
            except OperationalError as exc:
                session.close()
                if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                    raise
            time.sleep(random.uniform(0.5, 1.0) * min(0.05 * 2**attempt, 2.0))
        waited = WRITE_LOCK_ATTEMPTS * SQLITE_BUSY_TIMEOUT_MS // 1000
        raise DatabaseError(
            f"{self.display_url}: another writer has held the database for over {waited} s; "
            "nothing was changed, try again"
        )

    def close_for_fork(self) -> None:
        """Before forking a process that opens this database too: close every connection.
        SQLite's locks are a process's own, and a connection carried across the fork would
        make the child's connections share the parent's (SQLite would count no user in the
        child, and a last close here could delete the log it writes to)."""
        pool = self.engine.pool
        in_use = pool.checkedout() if isinstance(pool, QueuePool) else 0
        if self._bulk_writer is not None or in_use:
            raise RuntimeError("fork only while no connection of the database is in use")
        if self._unit_checkpoints is not None:
            self._unit_checkpoints.stop()  # no thread at the fork, nor its connection
        self.engine.dispose()

    def forked(self) -> None:
        """In a process forked from the one that opened the database: let go of the
        connections and the bulk run inherited from it, unclosed (they are the parent's to
        use and close); what this process does next opens its own."""
        self.engine.dispose(close=False)
        self._checkpointer = None
        self._bulk_writer = None
        if self._unit_checkpoints is not None:
            self._unit_checkpoints.forget()

    def dispose(self) -> None:
        """Close the pooled connections; on SQLite, then copy the write-ahead log into the
        file and cut it to nothing, unless someone else is reading or writing right now."""
        if self._unit_checkpoints is not None:
            self._unit_checkpoints.stop()
        self.engine.dispose()
        path = sqlite_path(self.url)
        if path is not None:
            truncate_log(path)
