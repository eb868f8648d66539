"""The secret that keys the audit chain: its file, where that file is by default, and which
one belongs to the database a session is on."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.engine import make_url

from cxdesk.db.engine import sqlite_path
from cxdesk.db.sharing import group_id
from cxdesk.errors import DatabaseError

AUDIT_KEY_BYTES = 32


class AuditKeyFile:
    """The secret that keys the audit chain, in a file the database's owner holds.

    Never in the database: whoever can edit the database must not thereby learn the key.
    It is read once per process, when a command first appends to the chain or verifies it.
    """

    def __init__(self, path: Path, group: str | None = None) -> None:
        self.path = path
        self.group = group
        self._key: bytes | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def key(self) -> bytes:
        """The key; a clear error when the file is missing, unreadable or not a key."""
        if self._key is None:
            try:
                text = self.path.read_text(encoding="ascii").strip()
            except FileNotFoundError:
                raise DatabaseError(
                    f"no audit key at {self.path}: the audit chain is keyed and nothing is "
                    "written without its key; restore the file (or run `cxdesk db upgrade` "
                    "on a database that never had one)"
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise DatabaseError(
                    f"cannot read the audit key {self.path}: {getattr(exc, 'strerror', exc)} "
                    "(run cxdesk as the database's owner, or a member of its group)"
                ) from None
            try:
                key = bytes.fromhex(text)
            except ValueError:
                key = b""
            if len(key) != AUDIT_KEY_BYTES:
                raise DatabaseError(
                    f"{self.path} is not an audit key ({AUDIT_KEY_BYTES * 2} hex digits)"
                )
            self._key = key
        return self._key

    def create(self, key: bytes | None = None) -> bytes:
        """Write a new key (or `key`, copied from another database), never over an existing
        file. Read by its owner only (0600), or by the database's group too (0640) where the
        database is shared with a team: a group is configured, or the directory is setgid."""
        key = key or os.urandom(AUDIT_KEY_BYTES)
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        shared = self.group is not None or directory.stat().st_mode & 0o2000
        mode = 0o640 if shared else 0o600
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            os.fchmod(out.fileno(), mode)  # whatever the umask took away
            if self.group is not None:
                os.fchown(out.fileno(), -1, group_id(self.group))
            out.write(key.hex() + "\n")
        self._key = key
        return key

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self._key = None


def default_key_file(url: str) -> Path | None:
    """Beside an SQLite file (`cxdesk.db.key`); for a server database, one file per database
    in the owner's configuration directory. None for an in-memory database.

    A URL with the server's default port and one without it name the same database: a key
    file under either spelling is found, and a new one is made under the URL's own."""
    path = sqlite_path(url)
    if path is not None:
        return Path(f"{path}.key")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return None
    home = os.environ.get("XDG_CONFIG_HOME") or Path("~/.config").expanduser()
    keys = Path(home) / "cxdesk" / "audit-keys"
    ports: list[object] = [parsed.port or "default"]
    default = _DEFAULT_PORTS.get(backend)
    if default is not None and parsed.port in (None, default):
        ports.append(default if parsed.port is None else "default")
    host, database = _in_name(parsed.host or "local"), _in_name(parsed.database or "")
    paths = [keys / f"{host}-{port}-{database}.key" for port in ports]
    return next((candidate for candidate in paths if candidate.exists()), paths[0])


def _in_name(part: str) -> str:
    """A host or database name as part of a file name in the keys' folder: a database may be
    named `a/../../b` (PostgreSQL takes any name quoted), whose key would be written outside
    it. `%` is escaped first, so that no two names share a file; a name without `%`, `/` or
    NUL is as it was."""
    return part.replace("%", "%25").replace("/", "%2F").replace("\x00", "%00")


_DEFAULT_PORTS = {"postgresql": 5432}  # the port a server's URL means when it names none


# The key file of each engine cxdesk opened, found from any session on it: by the dialect,
# which an engine shares with the engines its execution_options make (write sessions').
_AUDIT_KEYS: weakref.WeakKeyDictionary[Dialect, AuditKeyFile] = weakref.WeakKeyDictionary()


def remember_key_file(engine: Engine, key_file: AuditKeyFile) -> None:
    """Make `key_file` the one `audit_key_file` finds for sessions on `engine`."""
    _AUDIT_KEYS[engine.dialect] = key_file


def audit_key_file(bind: Engine | Connection) -> AuditKeyFile | None:
    """The audit key file of the database `bind` is on; None for one not opened by cxdesk."""
    return _AUDIT_KEYS.get(bind.dialect)
