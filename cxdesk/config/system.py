"""Where cxdesk keeps things: the database, the audit chain's key, the log."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from cxdesk.config.base import StrictModel


class DatabaseConfig(StrictModel):
    """Where the database is and how it is kept (`--db` or `CXDESK_DB` come first)."""

    url: str | None = Field(
        default=None,
        min_length=1,
        description="the database (path or SQLAlchemy URL) unless --db or CXDESK_DB name one",
    )

    group: str | None = Field(
        default=None,
        min_length=1,
        description="Unix group given the SQLite file and its -wal/-shm (env CXDESK_GROUP)",
    )


class AuditConfig(StrictModel):
    """Where the audit chain's key is kept: never in the database itself."""

    key_file: Path | None = Field(
        default=None,
        description="the key's file; default: beside an SQLite file (`cxdesk.db.key`), or "
        "~/.config/cxdesk/audit-keys/HOST-PORT-DATABASE.key for a server database",
    )

    @field_validator("key_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class LogConfig(StrictModel):
    """Where cxdesk's log lines go (what commands did and what failed): none by default."""

    file: Path | None = Field(
        default=None, description="append log lines to this file; default: standard error"
    )
    level: Literal["debug", "info", "warning", "error"] | None = Field(
        default=None,
        description="the least severe line written (default warning); --log-level or "
        "CXDESK_LOG choose it for standard error",
    )

    @field_validator("file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None
