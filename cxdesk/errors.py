"""Errors a user can act on. The CLI prints their message on one line and exits 2."""

from __future__ import annotations

from cxdesk.i18n import Message


class CxdeskError(Exception):
    """Base of every error whose message is meant for the person at the terminal. Raised with
    `say(...)`, its text (`str(exc)`, what the CLI, logs and JSON show) is the English, and the
    message is kept as `said` so that a desk can show it in its own language."""

    exit_code = 2

    def __init__(self, message: str | Message = "") -> None:
        super().__init__(str(message))
        self.said = message if isinstance(message, Message) else None


class DatabaseError(CxdeskError):
    """The database is missing, unreachable, or at a schema this code cannot use."""


class ConfigError(CxdeskError):
    """The configuration file is unreadable or invalid."""


class Interrupted(CxdeskError):
    """The user stopped a long command (ctrl+c) after part of its work was stored."""

    exit_code = 130


class NotFound(CxdeskError):
    """A ticket, agent or other record named by the user does not exist."""


class WorkflowError(CxdeskError):
    """A command that the ticket's stage, the role or the input does not allow."""


class UnusableTicket(WorkflowError):
    """A ticket whose stored values (a stage or priority this version does not know, a queue
    that is gone, a due time out of the calendar's range) no command can work with: written
    outside cxdesk, or by a newer version. The message names the ticket and the value."""


class PermissionDenied(WorkflowError):
    """The acting agent's role or teams do not allow the command."""


class StaleVersion(WorkflowError):
    """The ticket changed since the caller read it."""
