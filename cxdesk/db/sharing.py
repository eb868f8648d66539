"""A team's SQLite database, shared through a Unix group: who may read and write its files."""

from __future__ import annotations

import os
from pathlib import Path

from cxdesk.errors import DatabaseError

SHARED_FILE_MODE = 0o660


def group_id(group: str) -> int:
    """The id of the Unix group named `group` (or given by number)."""
    import grp

    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise DatabaseError(
            f"unknown group {group!r}: no such Unix group here (see [database] group in the "
            "config, or CXDESK_GROUP)"
        ) from None


def share_with_group(path: Path, gid: int | None = None, group: str | None = None) -> None:
    """Team members share the file through its group: read-write for them, nothing for others.

    SQLite gives the -wal and -shm files the database file's mode, but whoever opens the
    database first after everyone closed it creates them afresh, in their own primary group
    (unless the directory is setgid): so with a configured group, each of the three files
    this process owns is given to it.
    """
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            info = name.stat()
        except FileNotFoundError:
            continue
        if info.st_uid != os.geteuid() and os.geteuid() != 0:
            continue  # someone else's file: its owner set it up
        try:
            if info.st_mode & 0o777 != SHARED_FILE_MODE:
                name.chmod(SHARED_FILE_MODE)
            if gid is not None and info.st_gid != gid:
                os.chown(name, -1, gid)
        except PermissionError as exc:
            if gid is not None and info.st_gid != gid:
                raise DatabaseError(
                    f"cannot give {name} to group {group}: {exc.strerror} (are you a member of it?)"
                ) from None
