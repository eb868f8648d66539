"""Validating feedback records, here or in a second process that works a batch ahead.

On a big feed, validating a record (JSON parsing, the schema, cleaning text) costs a quarter
of what ingesting it costs, and it needs nothing from the database. So while ingest writes
one batch, the next is validated by a child process (`python -m cxdesk.workflow.validation
TIMEZONE`) on another core. Batches cross as pickles over the child's stdin and stdout, and
come back as flat `ValidEvent` tuples, which are cheap to unpickle. The child imports only
the schema, and exits when its stdin closes, as it does when ingest ends or is killed. If
it cannot start or stops, ingest says so and validates in its own process from then on.
"""

from __future__ import annotations

import gc
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from pydantic import ValidationError

from cxdesk.workflow.events import FeedbackEventIn, ValidEvent
from cxdesk.workflow.readers import Record

# Smaller batches are validated here: sending them costs more than the second core saves.
MIN_BATCH_FOR_CHILD = 1000

Payload = str | dict[str, Any] | None  # JSON text, CSV cells shaped as an event, or unreadable
Validated = ValidEvent | str  # the event, or why the record is refused
Pending = Callable[[], list[Validated]]  # a batch's outcome, once it is ready


def describe_validation_error(exc: ValidationError) -> str:
    """`nps: must be <= 10, got 11`; every problem of the record, in order."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        kind, ctx, shown = error["type"], error.get("ctx", {}), error.get("input")
        if kind == "json_invalid":
            return f"invalid JSON: {ctx.get('error', error['msg'])}"
        if kind in ("string_too_long", "too_long"):
            size = len(shown) if isinstance(shown, str | list) else ctx.get("actual_length")
            message = f"longer than the limit of {ctx.get('max_length')}, got {size}"
        elif kind in ("missing", "extra_forbidden"):
            message = "required" if kind == "missing" else "unknown field"
        else:
            message = {
                "less_than_equal": f"must be <= {ctx.get('le')}",
                "greater_than_equal": f"must be >= {ctx.get('ge')}",
                "string_too_short": "must not be empty",
            }.get(kind, error["msg"].removeprefix("Value error, "))
            if not isinstance(shown, dict | list):
                message += f", got {str(shown)[:80] if shown != '' else repr('')}"
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _payload(record: Record) -> Payload:
    if record.error is not None:
        return None
    return record.raw if record.fields is None else record.fields


def _validate(payload: Payload, timezone: str) -> Validated | None:
    if payload is None:
        return None
    try:
        if isinstance(payload, str):
            event = FeedbackEventIn.model_validate_json(payload)
        else:
            event = FeedbackEventIn.model_validate(payload)
    except ValidationError as exc:
        return describe_validation_error(exc)
    return event.flat(timezone)


def validate_record(record: Record, timezone: str) -> Validated:
    """The record as an event (naive times read in `timezone`), or why it is refused."""
    outcome = _validate(_payload(record), timezone)
    return record.error if outcome is None else outcome  # type: ignore[return-value]


def _outcomes(records: list[Record], validated: list[Validated | None]) -> list[Validated]:
    return [
        record.error if outcome is None else outcome  # type: ignore[misc]
        for record, outcome in zip(records, validated, strict=True)
    ]


class Validator:
    """Validates batches: full ones in the child process (one batch at a time), others here.

    `submit` hands over a batch and returns a callable giving its outcome. A batch is sent
    to the child only once the child has returned the previous one, so neither process can
    block writing to a pipe the other is not reading; the caller writes batch n while the
    child validates batch n + 1.
    """

    def __init__(self, timezone: str, batch_size: int) -> None:
        self.timezone = timezone
        self.use_child = batch_size >= MIN_BATCH_FOR_CHILD
        self.batch_size = batch_size
        self._child: subprocess.Popen[bytes] | None = None
        self._sent: list[Record] | None = None  # in the child now
        self._received: dict[int, list[Validated]] = {}  # by id() of the batch

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def submit(self, records: list[Record]) -> Pending:
        if not (self.use_child and len(records) >= self.batch_size):
            return self._here(records)
        if self._child is None:
            self._child = self._start()
            return self._here(records)  # validated here while the child starts
        self._collect()
        if not self.use_child:  # it stopped
            return self._here(records)
        self._send(records)
        return lambda: self._take(records)

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        try:
            child.stdin.close()  # type: ignore[union-attr]  # the child's signal to exit
            child.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            child.kill()
            child.wait()
        finally:
            child.stdout.close()  # type: ignore[union-attr]

    def _here(self, records: list[Record]) -> Pending:
        outcome = [validate_record(record, self.timezone) for record in records]
        return lambda: outcome

    def _start(self) -> subprocess.Popen[bytes] | None:
        command = [sys.executable, "-m", __name__, self.timezone]
        try:
            return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as exc:
            self._give_up(f"cannot start the validating process: {exc}")
            return None

    def _send(self, records: list[Record]) -> None:
        assert self._child is not None and self._child.stdin is not None
        try:
            pickle.dump([_payload(r) for r in records], self._child.stdin, pickle.HIGHEST_PROTOCOL)
            self._child.stdin.flush()
        except OSError as exc:
            self._stopped(exc)
            self._received[id(records)] = self._here(records)()
            return
        self._sent = records

    def _collect(self) -> None:
        """Read the outcome of the batch in the child, if there is one."""
        records, self._sent = self._sent, None
        if records is None:
            return
        assert self._child is not None and self._child.stdout is not None
        try:
            validated = pickle.load(self._child.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._stopped(exc)
            self._received[id(records)] = self._here(records)()  # what it had: done here
            return
        self._received[id(records)] = _outcomes(records, validated)

    def _take(self, records: list[Record]) -> list[Validated]:
        if self._sent is records:
            self._collect()
        return self._received.pop(id(records))

    def _stopped(self, exc: BaseException) -> None:
        code = self._child.poll() if self._child is not None else None
        self._give_up(
            f"the validating process stopped (exit code {code}): {str(exc) or type(exc).__name__}"
        )

    def _give_up(self, why: str) -> None:
        """Say why once, and validate every batch here from now on: slower, nothing lost."""
        print(f"cxdesk: warning: {why}; validating in this process", file=sys.stderr)
        self.use_child = False
        self.close()


def _serve(timezone: str, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The child's loop: a batch of payloads in, their outcomes out, until stdin closes."""
    gc.set_threshold(50_000, 50, 1000)  # short-lived models by the million; see ingest
    while True:
        try:
            payloads = pickle.load(stdin)
        except EOFError:
            return
        pickle.dump([_validate(p, timezone) for p in payloads], stdout, pickle.HIGHEST_PROTOCOL)
        stdout.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl+c is for ingest, which then closes us
    _serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
