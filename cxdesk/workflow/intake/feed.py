"""Where ingest's records come from: read and validated here, or, on a big feed, in a second
process that works a batch ahead.

Reading a record (lines, decoding, CSV) and validating it (JSON, the schema, cleaning text)
needs nothing from the database, yet is as much work as ingest's SQL; nor does
the rest of what ingest's `WorkAhead` does with an event: judging which alert rules it
fires, binding its row for the driver, planning the clocks of the case its alert would open.
So with batches of `MIN_BATCH_FOR_CHILD` records or more, ingest forks a child that reads the
source (the file, or the standard input they share) and sends each batch back as builtins
(see `to_wire`) while ingest writes the batch before; the pipe keeps it one batch ahead.
Forked, not started afresh, the child has every module, the rules' parsers and the SLA
calendars from the start (a new interpreter would import and build them all again), so its
first batch, `FIRST_BATCH` records, comes at once, and each next one is `GROWTH` times as big
up to the batch size.

The child ignores ctrl+c (ingest handles it, then ends the child) and exits when ingest stops
reading (a broken pipe) or dies (the child is handed to another parent while the feed is
quiet). If it cannot start or it fails, ingest says so once and reads on in its own process
from the line after the last batch it received. Standard input cannot be read twice, so a
live feed ends there with an error naming that line.
"""

from __future__ import annotations

import gc
import io
import marshal
import os
import signal
import struct
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import IO, TYPE_CHECKING, Any, TextIO

from cxdesk.errors import CxdeskError
from cxdesk.output import say
from cxdesk.workflow.intake.collector import collections_paused
from cxdesk.workflow.intake.events import Fired, ValidEvent
from cxdesk.workflow.intake.readers import Record, read_csv, read_jsonl, with_idle_ticks
from cxdesk.workflow.intake.validation import Terms, Validated, Window, validate_record

if TYPE_CHECKING:
    from cxdesk.workflow.clocks.sla import PlannedClocks

# Smaller batches are read here: the copies to and from the child cost more than it saves.
MIN_BATCH_FOR_CHILD = 1000
# The child's first batch, small: the writer waits while it is made, and then little while
# the batches grow to the batch size, as the writer takes longer for a batch than the child
# for one `GROWTH` times bigger (grown faster, the writer would wait for the child).
FIRST_BATCH = 1000
GROWTH = 1.3
QUIET_SECONDS = 1.0  # a live feed's records are committed once it has been quiet this long
PIPE_SIZE = 1 << 20  # the pipe from the child, where the system allows (Linux: up to 1 MB)

Origin = tuple[str, str | None]  # the source's format, and the CSV header to read it again
# The clocks of the case an alert would open, and the text each is stored as where the event's
# row is bound ahead (else None): the writer then binds the case's row without formatting them.
ClocksAhead = tuple["PlannedClocks", tuple[str | None, ...] | None]
# What the reading process works out ahead for a valid event, where it can (None: the writer
# does it): the alert rules it fires, its row bound for the driver, and its case's clocks.
Ahead = tuple[Fired | None, list[Any] | None, ClocksAhead | None]
WorkAhead = Callable[[ValidEvent, str], Ahead]
# Line, raw text, the event or why it is refused, where it came from, and the work ahead.
Checked = tuple[int, str, Validated, Origin, Fired | None, list[Any] | None, ClocksAhead | None]
NOTHING_AHEAD: Ahead = (None, None, None)


def checked(
    record: Record, timezone: str, window: Window | None, ahead: WorkAhead | None = None
) -> Checked:
    event = validate_record(record, timezone, window)
    fired, row, clocks = (
        ahead(event, record.raw)
        if ahead is not None and not isinstance(event, str)
        else NOTHING_AHEAD
    )
    return record.line, record.raw, event, (record.format, record.csv_header), fired, row, clocks


def checked_batches(
    records: Iterable[Record | None],
    terms: Terms,
    batch_size: int,
    ahead: WorkAhead | None = None,
    first: int | None = None,
) -> Iterator[list[Checked]]:
    """Batches of `batch_size` (of `first` at first, each next `GROWTH` times as big up to
    `batch_size`), and at each `None` (the feed went quiet) what has come."""
    batch: list[Checked] = []
    size = min(first or batch_size, batch_size)
    timezone, window = terms.timezone, terms.window()
    for record in records:
        if record is not None:
            batch.append(checked(record, timezone, window, ahead))
        if batch and (record is None or len(batch) >= size):
            yield batch
            batch = []
            size = min(int(size * GROWTH), batch_size)
    if batch:
        yield batch


@dataclass(frozen=True)
class FeedSource:
    """A file, or standard input (`path` None), in JSON Lines or CSV."""

    path: str | None
    format: str = "jsonl"

    @property
    def name(self) -> str:
        return "standard input" if self.path is None else self.path

    @contextmanager
    def open(self) -> Iterator[TextIO]:
        if self.path is None:
            yield io.TextIOWrapper(
                sys.stdin.buffer, encoding="utf-8", errors="surrogateescape", newline=""
            )
            return
        try:
            stream = open(self.path, encoding="utf-8", errors="surrogateescape", newline="")  # noqa: SIM115
        except OSError as exc:
            raise CxdeskError(f"cannot read {self.path}: {exc.strerror}") from exc
        with stream:
            yield stream

    def records(self, after_line: int = 0) -> Iterator[Record | None]:
        """Its records from `after_line` on; on standard input, a `None` whenever it is quiet."""
        with self.open() as stream:
            records = read_csv(stream) if self.format == "csv" else read_jsonl(stream)
            if self.path is None:
                yield from with_idle_ticks(records, QUIET_SECONDS)
                return
            for record in records:
                if record.line > after_line:
                    yield record


class CheckedFeed:
    """The source's checked batches, from a forked child when they are big enough."""

    def __init__(
        self,
        source: FeedSource,
        terms: Terms,
        batch_size: int,
        ahead: WorkAhead | None = None,
    ) -> None:
        self.source = source
        self.terms = terms
        self.batch_size = batch_size
        self.ahead = ahead  # what the child works out for each valid event
        self._child: Child | None = None

    def __enter__(self) -> CheckedFeed:
        """Starts the child, if any: before the writer starts threads of its own, which a fork
        does not take along (locks they hold would stay held in the child)."""
        if self.batch_size >= MIN_BATCH_FOR_CHILD and hasattr(os, "fork"):
            if self.source.path is not None:
                with self.source.open():
                    pass  # a file that cannot be read is reported here, not by the child
            self._child = self._start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[list[Checked]]:
        if self._child is None:
            yield from self._read_here()
            return
        failure, last_line = "", 0
        while True:
            try:
                batch = _receive(self._child.stdout)
            except (OSError, EOFError, ValueError, TypeError) as exc:
                failure = str(exc) or type(exc).__name__
                break
            if batch is None:
                break
            last_line = batch[-1][0]
            yield batch
            del batch  # written: not held while the next one is read
        code = self._child.wait()
        if code == 0 and not failure:
            return
        self._warn(f"the reading process stopped (exit code {code}) {failure}".rstrip())
        if self.source.path is None:
            raise CxdeskError(
                f"the reading process stopped after line {last_line} of standard input, "
                "which cannot be read again; everything up to that line is stored"
            )
        yield from self._read_here(after_line=last_line)

    def _read_here(self, after_line: int = 0) -> Iterator[list[Checked]]:
        return checked_batches(
            self.source.records(after_line=after_line), self.terms, self.batch_size
        )

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.poll() is None:
            child.kill()  # it may be waiting on a live feed, or on the pipe
            child.wait()
        child.stdout.close()

    def _start(self) -> Child | None:
        try:
            return Child.fork(self._serve)
        except OSError as exc:
            self._warn(f"cannot start the reading process: {exc}")
            return None

    def _serve(self, out: IO[bytes]) -> None:
        """The child's work: the source's checked batches, sent to `out`, until it ends."""
        parent = os.getppid()

        def records() -> Iterator[Record | None]:
            for record in self.source.records():
                if record is None and os.getppid() != parent:
                    return  # ingest died while the feed was quiet
                yield record

        batches = checked_batches(records(), self.terms, self.batch_size, self.ahead, FIRST_BATCH)
        with collections_paused() as collector:
            for batch in batches:
                _send(out, batch)
                collector.after(len(batch))

    def _warn(self, why: str) -> None:
        say(f"cxdesk: warning: {why}; reading in this process", err=True)


class Child:
    """A forked process that runs one function writing to a pipe, and the pipe's end to read.

    The child shares what the parent had at the fork and must leave it alone: it disables
    the collector at once (a cycle it collected might hold a database connection, whose
    closing would touch the database), and ends with `os._exit`, so that no finalizer,
    `atexit` hook or buffered output of the parent's runs twice.
    """

    def __init__(self, pid: int, stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None

    @classmethod
    def fork(cls, work: Callable[[IO[bytes]], None]) -> Child:
        """The child running `work` on the pipe's writing end; exit code 0 when it returns or
        the parent stops reading, 1 (and the traceback on standard error) when it fails."""
        sys.stdout.flush()  # else the child could write the parent's buffered output again
        sys.stderr.flush()
        readable, writable = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                gc.disable()
                os.close(readable)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl+c is for the parent
                with open(writable, "wb") as out:
                    work(out)
            except BrokenPipeError:
                pass  # the parent stopped reading: it ended or was killed
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(writable)
        stdout = open(readable, "rb")  # noqa: SIM115 (closed by CheckedFeed.close)
        _widen(stdout)
        return cls(pid, stdout)

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


def _widen(pipe: IO[bytes]) -> None:
    """A batch is megabytes, which a pipe of 64 kB (the default) hands over in a hundred
    steps, each waking the other process. A wish, not a need: Linux only, within its limit."""
    try:
        import fcntl

        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass


# A batch crosses the pipe as marshal's bytes, its length first. Marshal writes and reads
# builtins well ahead of pickle, which calls into Python for each named tuple and datetime; so
# events go as lists (the writer sets the instant in place, then makes the named tuple in one
# step) and instants as ISO 8601 text in UTC, which `datetime.fromisoformat` reads back
# quicker than an instant is made from microseconds since the epoch.
_LENGTH = struct.Struct("<Q")
_AT = ValidEvent._fields.index("occurred_at")


def _recast(
    batch: list[Any], instant: Callable[[Any], Any], event_of: Callable[[list[Any]], Any]
) -> list[Any]:
    """The batch with its events' instants converted by `instant`, and its events made by
    `event_of` from a list of their fields (the wire's own lists, set in place; a named
    tuple's fields, copied)."""
    recast = []
    for line, raw, event, origin, fired, row, clocks in batch:
        if event.__class__ is not str:
            fields = event if event.__class__ is list else list(event)
            fields[_AT] = instant(fields[_AT])
            event = event_of(fields)
        recast.append((line, raw, event, origin, fired, row, clocks))
    return recast


def to_wire(batch: list[Checked]) -> list[tuple[Any, ...]]:
    return _recast(batch, datetime.isoformat, lambda fields: fields)


def from_wire(wire: list[tuple[Any, ...]]) -> list[Checked]:
    return _recast(wire, datetime.fromisoformat, partial(tuple.__new__, ValidEvent))


def _send(out: IO[bytes], batch: list[Checked]) -> None:
    # Encoded whole before it is written: ingest, reading, then waits only for the copy, not
    # for the encoding.
    data = marshal.dumps(to_wire(batch))
    out.write(_LENGTH.pack(len(data)))
    out.write(data)
    out.flush()


def _receive(stream: IO[bytes]) -> list[Checked] | None:
    """The next batch, or None where the child ended between batches."""
    head = stream.read(_LENGTH.size)
    if not head:
        return None
    if len(head) < _LENGTH.size:
        raise EOFError("the pipe ended inside a batch's length")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError(f"the pipe ended {size - len(data)} bytes before a batch's end")
    return from_wire(marshal.loads(data))
