"""Consistent online backups of an SQLite database, taken while others keep writing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from cxdesk.db import Database, sqlite_path
from cxdesk.errors import CxdeskError
from cxdesk.workflow.basics.progress import Progress


def backup_sqlite(db: Database, target: Path, progress: Progress | None = None) -> int:
    """Copy the live database to `target` with SQLite's backup API; returns its size in bytes.
    `progress` is told the pages copied, step by step.

    The backup API copies a consistent snapshot page by page, so writers are never blocked
    for long and the copy is a database as of one instant. PostgreSQL is backed up with
    `pg_dump` instead.
    """
    source_path = sqlite_path(db.url)
    if source_path is None:
        raise CxdeskError(
            "cxdesk backup copies SQLite files; back up PostgreSQL with "
            "`pg_dump --format=custom DBNAME > cxdesk.dump`"
        )
    if target.exists():
        raise CxdeskError(f"{target} already exists; choose a new file for the backup")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy, pages=1024, progress=_pages(progress))
    finally:
        copy.close()
        source.close()
    checked = sqlite3.connect(target)
    try:
        if checked.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise CxdeskError(f"the backup at {target} failed its integrity check")
    finally:
        checked.close()
    return target.stat().st_size


def _pages(progress: Progress | None) -> Callable[[int, int, int], object] | None:
    """SQLite's backup callback (status, pages remaining, pages in all) as `progress`."""
    if progress is None:
        return None
    return lambda _status, remaining, total: progress("backup", total - remaining, total)
