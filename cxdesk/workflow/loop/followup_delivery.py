"""Sending the due follow-up surveys through `followup_command`, one at a time: claim it (a
short write transaction), run the command with the survey as JSON on standard input while
no transaction is open, then record the outcome (another), retrying failures with backoff.

The command is an argument list, never run through a shell; it is what sends, so it gets
the customer's contacts unmasked. What it writes to standard error is kept, cleaned and
bounded, as the reason of a failure.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cxdesk.errors import CxdeskError
from cxdesk.i18n import say
from cxdesk.output import json_text
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.text import one_line
from cxdesk.workflow.loop.commands import RecordSurveyDelivery, SuppressSurvey
from cxdesk.workflow.loop.followup_claims import INTERRUPTED, Step, claim_next, due_followups
from cxdesk.workflow.loop.service import TicketService

ERROR_CHARS = 500  # of a failure's reason, stored and shown
_STDERR_TAIL = 8192  # bytes of the command's standard error read: its last words
logger = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0  # failed attempts with attempts left
    failed: int = 0  # failed at the last attempt
    suppressed: int = 0


def run_survey_command(argv: list[str], survey: dict[str, Any], timeout: timedelta) -> str | None:
    """Run the command with `survey` as JSON on standard input; None if it exits 0, else why
    not as one clean line: its exit status and the end of its standard error, a timeout (the
    command and whatever it started are killed), or a program that cannot be run."""
    seconds = timeout.total_seconds()
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,  # its own process group, to be killed whole
            )
        except (OSError, ValueError) as exc:
            error = say("cannot run {program}: {error}", program=argv[0], error=str(exc))
            return one_line(str(error), ERROR_CHARS)
        try:
            process.communicate(json_text(survey).encode(), timeout=seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # it ended just then
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return str(
                say(
                    "no answer from {program} within {seconds} s",
                    program=one_line(argv[0], 200),
                    seconds=int(seconds),
                )
            )
        if process.returncode == 0:
            return None
        errors.seek(max(errors.seek(0, os.SEEK_END) - _STDERR_TAIL, 0))
        said = one_line(errors.read().decode("utf-8", "replace"), _STDERR_TAIL)
        status = process.returncode
        how = str(
            say("killed by signal {signal}", signal=-status)
            if status < 0
            else say("exit status {status}", status=status)
        )
        room = ERROR_CHARS - len(how) - 2
        if len(said) > room:  # its last words say most
            said = "…" + said[len(said) - room + 1 :]
        return f"{how}: {said}" if said else how


def deliver_followups(service: TicketService, now: datetime) -> DeliveryReport:
    """Send what is due, up to `per_pass` attempts; nothing when no command is configured.
    The pass's clock starts at `now` and runs on with the time the commands take, so leases
    and records stay true however long the pass lasts."""
    report = DeliveryReport()
    settings = service.settings
    argv = settings.followup_command
    if not argv:
        return report
    delivery = settings.followup_delivery
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    with service.db.session() as session:  # nothing due: no write lock taken, no claim
        if session.exec(due_followups(now).limit(1)).first() is None:
            return report
    passed: set[int] = set()
    attempts = 0
    while attempts < delivery.per_pass:
        with service.db.write() as session:
            step = claim_next(session, settings, clock(), passed)
        if step is None:
            break
        if step.outcome == "passed":
            passed.add(step.followup_id)
        elif step.outcome == "suppress":
            passed.add(step.followup_id)
            report.suppressed += _suppress(service, step, clock())
        else:
            attempts += 1
            error = (
                str(INTERRUPTED)
                if step.outcome == "interrupted"
                else run_survey_command(argv, step.survey, delivery.timeout)
            )
            _record(service, step, error, clock(), report)
    return report


def _suppress(service: TicketService, step: Step, at: datetime) -> int:
    assert step.by is not None and step.by.sent_at is not None
    command = SuppressSurvey(
        step.ticket_id,
        followup_id=step.followup_id,
        after=step.by.ticket_id,
        sent_at=step.by.sent_at,
        at=at,
    )
    try:
        service.handle(command)
    except CxdeskError as exc:  # a ticket no command can work with: said, and left
        logger.warning("follow-up of %s not suppressed: %s", ticket_ref(step.ticket_id), exc)
        return 0
    return 1


def _record(
    service: TicketService, step: Step, error: str | None, at: datetime, report: DeliveryReport
) -> None:
    """Record how the attempt went, and count it."""
    command = RecordSurveyDelivery(
        step.ticket_id, followup_id=step.followup_id, attempt=step.attempt, error=error, at=at
    )
    ref = ticket_ref(step.ticket_id)
    try:
        service.handle(command)
    except CxdeskError as exc:
        logger.warning("follow-up of %s: outcome not recorded: %s", ref, exc)
        return
    if error is None:
        report.sent += 1
    elif step.attempt >= service.settings.followup_delivery.max_attempts:
        report.failed += 1
        logger.warning("follow-up of %s failed for good (attempt %d): %s", ref, step.attempt, error)
    else:
        report.retrying += 1
        logger.info("follow-up of %s failed (attempt %d), to retry: %s", ref, step.attempt, error)
