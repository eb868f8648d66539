"""Where ingest's records come from: read and validated here, or, on a big feed, in a second
process that works a batch ahead.

Reading a record (lines, decoding, CSV) and validating it (JSON, the schema, cleaning text)
needs nothing from the database, and cost ingest's writer as much as its SQL did; nor does
judging which alert rules an event fires, when the event carries the customer fields the
rules read, nor binding its row for the driver (see event_rows), nor planning the SLA clocks
of the case its alert would open. So with batches of
`MIN_BATCH_FOR_CHILD` records or more, a child process (`python -m cxdesk.workflow.feed`)
opens the file itself, or reads the standard input it shares with ingest, and sends each
batch back as builtins (see `_to_wire`) while ingest writes the batch before; the pipe keeps
it one batch ahead. Of a file, ingest reads the first `HEAD_BATCHES` batches' worth itself
while the child starts, and the child reads from the line after them.

The child ignores ctrl+c (ingest handles it, then ends the child) and exits when ingest stops
reading (a broken pipe) or dies (the child is handed to another parent while the feed is
quiet). If it cannot start or it fails, ingest says so once and reads on in its own process
from the line after the last batch it received. Standard input cannot be read twice, so a
live feed ends there with an error naming that line.
"""

from __future__ import annotations

import io
import json
import marshal
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, TextIO

from cxdesk.errors import CxdeskError
from cxdesk.workflow.collector import collections_paused
from cxdesk.workflow.events import Fired, ValidEvent
from cxdesk.workflow.instants import epoch_micros, from_epoch_micros
from cxdesk.workflow.readers import Record, read_csv, read_jsonl, with_idle_ticks
from cxdesk.workflow.validation import Validated, validate_record

if TYPE_CHECKING:  # the child imports them only once its first batch is on its way
    from cxdesk.config import AlertRuleConfig
    from cxdesk.workflow.sla import PlannedClocks

# Smaller batches are read here: the child's start and the copies cost more than it saves.
MIN_BATCH_FOR_CHILD = 1000
# The child takes about as long to start (imports, the rule engine's parser tables) and send
# its first batch as ingest takes for this many batches of its own: after one batch, ingest
# waited 0.45-0.9 s for the child; after a batch and a quarter, 0.15-0.2 s.
HEAD_BATCHES = 1.25
QUIET_SECONDS = 1.0  # a live feed's records are committed once it has been quiet this long
PIPE_SIZE = 1 << 20  # the pipe from the child, where the system allows (Linux: up to 1 MB)

Origin = tuple[str, str | None]  # the source's format, and the CSV header to read it again
# What the reading process works out ahead for a valid event, where it can (None: the writer
# does it): the alert rules it fires, its row bound for the driver, and the clocks of the
# case its alert would open.
Ahead = tuple[Fired | None, list[Any] | None, "PlannedClocks | None"]
WorkAhead = Callable[[ValidEvent, str], Ahead]
# Line, raw text, the event or why it is refused, where it came from, and the work ahead.
Checked = tuple[int, str, Validated, Origin, Fired | None, list[Any] | None, "PlannedClocks | None"]
NOTHING_AHEAD: Ahead = (None, None, None)


def checked(record: Record, timezone: str, ahead: WorkAhead | None = None) -> Checked:
    event = validate_record(record, timezone)
    fired, row, clocks = (
        ahead(event, record.raw)
        if ahead is not None and not isinstance(event, str)
        else NOTHING_AHEAD
    )
    return record.line, record.raw, event, (record.format, record.csv_header), fired, row, clocks


def checked_batches(
    records: Iterable[Record | None],
    timezone: str,
    batch_size: int,
    ahead: WorkAhead | None = None,
) -> Iterator[list[Checked]]:
    """Batches of `batch_size`, and at each `None` (the feed went quiet) what has come."""
    batch: list[Checked] = []
    for record in records:
        if record is not None:
            batch.append(checked(record, timezone, ahead))
        if batch and (record is None or len(batch) >= batch_size):
            yield batch
            batch = []
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
    """The source's checked batches, from the child process when they are big enough."""

    def __init__(
        self,
        source: FeedSource,
        timezone: str,
        batch_size: int,
        rules: list[AlertRuleConfig] | None = None,
        drivername: str | None = None,
        clocks: dict[str, Any] | None = None,
    ) -> None:
        self.source = source
        self.timezone = timezone
        self.batch_size = batch_size
        self.rules = rules or []  # the child judges each event's alert by these
        self.drivername = drivername  # and binds its row for this backend (no URL: no secrets)
        self.clocks = clocks  # and plans its case's clocks by this (see sla.portable_clocks)
        self._child: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CheckedFeed:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[list[Checked]]:
        if self.batch_size < MIN_BATCH_FOR_CHILD:
            yield from self._read_here()
            return
        with self.source.open():
            pass  # a file that cannot be read is reported here, not by the child
        last_line = 0
        if self.source.path is not None:
            # The child takes a while to start and load its work, so the head of a file is
            # read here meanwhile, and the child reads on after it.
            head = int(self.batch_size * HEAD_BATCHES)
            with closing(self.source.records()) as records:
                first = list(islice(records, head + 1))
            if len(first) <= head:  # the whole file
                yield from checked_batches(first, self.timezone, self.batch_size)
                return
            del first[-1]
            assert first[-1] is not None  # a file is never quiet
            last_line = first[-1].line
            self._child = self._start(last_line)
            yield from checked_batches(first, self.timezone, self.batch_size)
        else:
            self._child = self._start()
        if self._child is None:
            yield from self._read_here(after_line=last_line)
            return
        failure = ""
        assert self._child.stdout is not None
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
            self.source.records(after_line=after_line), self.timezone, self.batch_size
        )

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.poll() is None:
            child.kill()  # it may be waiting on a live feed, or on the pipe
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]

    def _start(self, after_line: int = 0) -> subprocess.Popen[bytes] | None:
        """The child, reading the source's records after `after_line`."""
        rules = [rule.model_dump(mode="json") for rule in self.rules]
        spec = json.dumps(
            [
                asdict(self.source),
                after_line,
                self.timezone,
                self.batch_size,
                rules,
                self.drivername,
                self.clocks,
            ]
        )
        try:
            child = subprocess.Popen(
                # -P: not the working directory's modules, should it hold another cxdesk
                [sys.executable, "-P", "-m", __name__, spec],
                stdin=None if self.source.path is None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
            )
        except OSError as exc:
            self._warn(f"cannot start the reading process: {exc}")
            return None
        _widen(child.stdout)
        return child

    def _warn(self, why: str) -> None:
        print(f"cxdesk: warning: {why}; reading in this process", file=sys.stderr)


def _widen(pipe: IO[bytes] | None) -> None:
    """A batch is megabytes, which a pipe of 64 kB (the default) hands over in a hundred
    steps, each waking the other process. A wish, not a need: Linux only, within its limit."""
    try:
        import fcntl

        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # type: ignore[arg-type, attr-defined]
    except (ImportError, AttributeError, OSError):
        pass


# A batch crosses the pipe as marshal's bytes, its length first. Marshal writes and reads
# builtins in a third of pickle's time (a named tuple and a datetime each cost pickle a call
# into Python, ~9 us an event of the reading process's ~60), so events go as lists (the
# writer sets the instant in place, then makes the named tuple in one step) and instants as
# microseconds since the epoch.
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


def _to_wire(batch: list[Checked]) -> list[tuple[Any, ...]]:
    return _recast(batch, epoch_micros, lambda fields: fields)


def _from_wire(wire: list[tuple[Any, ...]]) -> list[Checked]:
    return _recast(wire, from_epoch_micros, partial(tuple.__new__, ValidEvent))


def _send(out: IO[bytes], batch: list[Checked]) -> None:
    # Encoded whole before it is written: ingest, reading, then waits only for the copy, not
    # for the encoding (~25 ms a batch when the two were interleaved).
    data = marshal.dumps(_to_wire(batch))
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
    return _from_wire(marshal.loads(data))


class _LateWork:
    """Works nothing ahead in the first batch of standard input. The rule engine and the
    database layer take ~0.5 s to import, so the child sends that batch as it is (the writer
    does the rest), and loads them with the first event after it, while that batch is being
    written. On a file, ingest reads the first batch itself, and the child loads them at once.
    """

    def __init__(
        self,
        rules: list[dict[str, Any]],
        drivername: str | None,
        clocks: dict[str, Any] | None,
        armed: bool,
    ) -> None:
        self.rules = rules
        self.drivername = drivername
        self.clocks = clocks
        self.armed = armed  # set once the first batch is on its way
        self.work: WorkAhead | None = None

    def __call__(self, event: ValidEvent, raw: str) -> Ahead:
        if self.work is None:
            if not self.armed:
                return NOTHING_AHEAD
            self.work = self._load()
        return self.work(event, raw)

    def _load(self) -> WorkAhead:
        from cxdesk.config import AlertRuleConfig
        from cxdesk.db import dialect_for
        from cxdesk.workflow.event_rows import EventRows
        from cxdesk.workflow.rules import RuleSet
        from cxdesk.workflow.sla import clocks_from_portable, planned

        rules = RuleSet([AlertRuleConfig(**rule) for rule in self.rules])
        rows = EventRows(dialect_for(self.drivername)) if self.drivername else None
        bind = rows.bind if rows is not None and rows.bound_ahead else None
        planner, queues = clocks_from_portable(self.clocks) if self.clocks else (None, {})

        def clocks_of(event: ValidEvent, fired: Fired | None) -> PlannedClocks | None:
            alert = rules.alert_of(fired) if fired else None
            if alert is None or planner is None:
                return None
            queue = queues[alert.decisive.queue]
            return planned(planner.opening_clocks(queue, alert.priority, event.occurred_at))

        def work(event: ValidEvent, raw: str) -> Ahead:
            fired = rules.judge_alone(event)
            return fired, bind(event, raw) if bind else None, clocks_of(event, fired)

        return work


def _serve(spec: str) -> None:
    """The child: the source's checked batches, sent to stdout, until it ends."""
    fields, after_line, timezone, batch_size, rules, drivername, clocks = json.loads(spec)
    source = FeedSource(**fields)
    ahead = _LateWork(rules, drivername, clocks, armed=after_line > 0)
    parent = os.getppid()

    def records() -> Iterator[Record | None]:
        for record in source.records(after_line):
            if record is None and os.getppid() != parent:
                return  # ingest died while the feed was quiet
            yield record

    out = sys.stdout.buffer
    try:
        with collections_paused() as collector:
            for batch in checked_batches(records(), timezone, batch_size, ahead):
                _send(out, batch)
                ahead.armed = True
                collector.after(len(batch))
    except BrokenPipeError:
        os._exit(0)  # ingest stopped reading: it ended or was killed


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl+c is for ingest, which then ends us
    _serve(sys.argv[1])
