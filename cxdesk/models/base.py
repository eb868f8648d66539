"""What every table module shares: the constraint naming convention and column types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import ColumnElement, DateTime, Index, MetaData, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Stable constraint names, so migrations can alter them on SQLite and PostgreSQL alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TableModel(SQLModel):
    """What every table is built on. pydantic's validator and serializer of a table are
    built when first used, not as its class is made: rows are read and written without
    them (SQLModel constructs a table's instances unvalidated), so most commands never use
    them, and building them for every table took a tenth of importing the models."""

    model_config = ConfigDict(defer_build=True)  # type: ignore[assignment]  # merged into SQLModel's


def table_of(model: type[SQLModel]) -> Table:
    """The Table a table model maps, for Core statements and bulk inserts."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel sets it, undeclared
    return table


# Where a partial index keeps its condition until `give_partial_conditions` hands it on.
_PARTIAL_WHERE = "cxdesk_partial_where"
_PARTIAL_DIALECTS = ("sqlite", "postgresql")


def partial_index(name: str, *columns: Any, where: ColumnElement[bool]) -> Index:
    """An index of the rows `where` holds, on SQLite and PostgreSQL alike (its finder
    repeats the condition term for term, so that SQLite uses it).

    The condition waits in the index's `info` for `give_partial_conditions`, where models
    meet the schema (the migrations' environment): naming a dialect's option imports that
    dialect, and PostgreSQL's brings every driver SQLAlchemy has for it (asyncpg, psycopg,
    pg8000), which a command on SQLite has no use for."""
    return Index(name, *columns, info={_PARTIAL_WHERE: where})


def give_partial_conditions(metadata: MetaData) -> None:
    """Hand each partial index's condition (`partial_index`) to both dialects, so that their
    DDL and Alembic's comparisons and generated revisions have it."""
    for table in metadata.tables.values():
        for index in table.indexes:
            where = index.info.get(_PARTIAL_WHERE)
            if where is not None:
                for dialect in _PARTIAL_DIALECTS:
                    index.dialect_options[dialect]["where"] = where


def empty_list() -> list[Any]:
    """Default for JSON list columns. A named function, not `list`: pydantic inspects the
    factory's signature on every construction, and a builtin's is slow to inspect."""
    return []


def empty_dict() -> dict[str, Any]:
    """Default for JSON object columns (see `empty_list`)."""
    return {}


# The same instants recur (a batch's receipt time; an event's time on its ticket, its
# timeline entry and its audit row), and a datetime keeps its hash: their text is remembered
# once for every column and table, so an alert's time is formatted once, not once per table.
# Equal aware instants are one UTC text whatever their zones, so equality is enough.
_SQLITE_TEXTS: dict[datetime, str] = {}
_SQLITE_TEXTS_HELD = 65536


def remember_sqlite_text(instant: datetime, text: str) -> None:
    """Take `text` as what an aware `instant` is stored as on SQLite, as made by this type in
    another process (ingest's reading process binds each event's time): the rows the writer
    adds for the event then bind it without formatting it again."""
    if len(_SQLITE_TEXTS) < _SQLITE_TEXTS_HELD:
        _SQLITE_TEXTS[instant] = text


# What a time that cannot be read reads as (text or a number written into an SQLite file by
# hand; PostgreSQL's types refuse them): an instant no real one is, which every screen and
# listing already shows as absurd rather than failing on. Unchanged, it is never written back.
UNREADABLE_INSTANT = datetime(1, 1, 1, tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store instants as naive UTC, hand them back timezone-aware.

    SQLite has no time zone type; keeping every column in UTC makes SQLite and
    PostgreSQL compare and index the same values.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    # On SQLite, one step each way between an aware datetime and the text SQLAlchemy stores
    # (`YYYY-MM-DD HH:MM:SS.ffffff`) in place of its regex-based parsing: ingest binds millions
    # of these and every listing reads them back.

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        texts = _SQLITE_TEXTS

        def process(value: Any) -> str | None:
            if value.__class__ is datetime and value.tzinfo is not None:
                text = texts.get(value)
                if text is None:
                    if len(texts) >= _SQLITE_TEXTS_HELD:
                        texts.clear()
                    u = value if value.tzinfo is UTC else value.astimezone(UTC)
                    # isoformat(" ", "microseconds") without +00:00, in two thirds of its time
                    text = texts[value] = "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
                        u.year,
                        u.month,
                        u.day,
                        u.hour,
                        u.minute,
                        u.second,
                        u.microsecond,
                    )
                return text
            value = self.process_bind_param(value, dialect)
            return None if value is None else value.isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            try:
                parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
                return (
                    parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
                )
            except (ValueError, TypeError, AttributeError, OverflowError):
                return UNREADABLE_INSTANT

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        try:
            # raw SQLite text written outside the ORM
            at: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
            return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        except (ValueError, TypeError, AttributeError, OverflowError):
            return UNREADABLE_INSTANT
