"""Where cxdesk's log lines go: nowhere unless asked for, so what commands print stays as it is.

Modules log to `cxdesk.<module>` loggers; only this module gives them a destination. Standard
error when `--log-level` (or `CXDESK_LOG`) asks, or the config's `[log] level` without a file;
the config's `[log] file` otherwise (only the config names a file: under sudo the service
account writes it). Never standard error while the TUI owns the terminal. Each line is
escaped as everything cxdesk prints: it may carry an event id or a file name from input.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from cxdesk.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from cxdesk.config import LogConfig

LEVELS = ("debug", "info", "warning", "error")
ACCESS = "cxdesk.access"  # a server's access log: one JSON object a line (`follow_requests`)
DEFAULT_LEVEL = "warning"
LOGGER = logging.getLogger("cxdesk")
_FORMAT = "%(asctime)s cxdesk[%(process)d] %(levelname)s %(name)s: %(message)s"
_STDERR, _FILE = "cxdesk.stderr", "cxdesk.file"  # the handlers' names
# Until a run says where its log goes, nowhere: not Python's last-resort handler on stderr,
# which would add a raw line under an early usage error.
LOGGER.addHandler(logging.NullHandler())


class _SafeFormatter(logging.Formatter):
    """Escapes control and bidi characters: a record is one line whatever it quotes (a newline
    in a file name or an argument cannot forge a line of its own); a traceback keeps its
    lines."""

    def __init__(self) -> None:
        from cxdesk.output import sanitize

        super().__init__(_FORMAT)
        self._sanitize = sanitize

    def formatMessage(self, record: logging.LogRecord) -> str:
        return self._sanitize(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return self._sanitize(super().formatException(ei), multiline=True)

    def formatStack(self, stack_info: str) -> str:
        return self._sanitize(super().formatStack(stack_info), multiline=True)


def start(stderr_level: str | None) -> None:
    """A run's log, before the config is read: on standard error at `stderr_level` if given
    (`--log-level`), else nowhere (and never Python's last-resort handler on stderr)."""
    for handler in list(LOGGER.handlers):  # a previous run's, in the same process
        LOGGER.removeHandler(handler)
        handler.close()
    LOGGER.addHandler(logging.NullHandler())
    if stderr_level is not None:
        _add(logging.StreamHandler(sys.stderr), _STDERR, stderr_level)
    _set_logger_level()


class _LineFormatter(logging.Formatter):
    """The message alone, escaped: a line that is a JSON object of its own (the access log)."""

    def __init__(self) -> None:
        from cxdesk.output import sanitize

        super().__init__("%(message)s")
        self._sanitize = sanitize

    def formatMessage(self, record: logging.LogRecord) -> str:
        return self._sanitize(super().formatMessage(record))


def follow_config(config: LogConfig) -> None:
    """The config's `[log]`, once read: its file at its level; without a file, its level on
    standard error unless `--log-level` chose one."""
    if config.file is not None:
        _add(_file_handler(config.file), _FILE, config.level or DEFAULT_LEVEL)
    elif config.level is not None and _handler(_STDERR) is None:
        _add(logging.StreamHandler(sys.stderr), _STDERR, config.level)


def follow_requests(config: LogConfig) -> None:
    """A server's access log: every request, whatever the level of the rest, to the config's
    log file, else standard error; each line the JSON object the server logs, nothing before
    it, so that the lines can be read as JSON Lines."""
    access = logging.getLogger(ACCESS)
    for handler in list(access.handlers):  # a previous run's, in the same process
        access.removeHandler(handler)
        handler.close()
    handler = _file_handler(config.file) if config.file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def _file_handler(path: Path) -> logging.Handler:
    if path.is_fifo():  # opening it would block every run until a reader came
        raise ConfigError(f"log.file: {path} is a named pipe; name a file")
    try:
        return logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"log.file: cannot open {path}: {exc.strerror}") from None


def off_screen() -> None:
    """The TUI draws on the terminal: no log line goes to standard error while it runs."""
    handler = _handler(_STDERR)
    if handler is not None:
        LOGGER.removeHandler(handler)
        _set_logger_level()


def _add(handler: logging.Handler, name: str, level: str) -> None:
    handler.set_name(name)
    handler.setLevel(level.upper())
    handler.setFormatter(_SafeFormatter())
    LOGGER.addHandler(handler)
    _set_logger_level()


def _handler(name: str) -> logging.Handler | None:
    return next((h for h in LOGGER.handlers if h.get_name() == name), None)


def _set_logger_level() -> None:
    """The logger passes on what its least choosy handler writes: nothing below is built."""
    levels = [h.level for h in LOGGER.handlers if h.get_name() in (_STDERR, _FILE)]
    LOGGER.setLevel(min(levels, default=logging.getLevelName(DEFAULT_LEVEL.upper())))
