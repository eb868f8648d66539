"""Reading feedback records from JSON Lines or CSV, streaming, with line numbers.

Nothing here validates: a record is its raw text (kept verbatim for the quarantine) and,
for CSV, its cells shaped like the JSON event.
"""

from __future__ import annotations

import csv
import queue
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple, TextIO

from cxdesk.workflow.basics.text import decodable
from cxdesk.workflow.intake.events import SCORES, score_of_text

# Records per ingest transaction: big enough that a batch's fixed costs (look-ups, commit)
# are spread thin, small enough that a killed run redoes little and other writers wait
# under a second for the lock. A commit writes every page the batch touched to the log, and
# random index pages are touched again by each batch, so smaller batches write the same pages
# over and over. Twice this ran no faster that could be told from noise (200,000 events, two
# runs each, default and alert-heavy feeds) and held 50 MB more at its peak (312 against
# 261 MB): a batch holds about 5 KB an event in flight. `cxdesk ingest --batch`.
BATCH_SIZE = 10_000

MAX_RECORD_CHARS = 1 << 20  # one record may be up to 1 MiB of text; longer ones are refused
CSV_COLUMNS = (
    "event_id",
    "kind",
    "occurred_at",
    "customer_id",
    "customer_name",
    "customer_phone",
    "customer_email",
    "customer_tier",
    "channel",
    "touchpoint",
    "journey",
    "nps",
    "csat",
    "ces",
    "comment",
    "drivers",
    "ticket_id",
)


class Record(NamedTuple):
    """One record of a source, as read (a tuple: quicker to build than a frozen dataclass,
    and there is one for every line of a feed)."""

    line: int  # where the record starts in its source
    raw: str
    fields: dict[str, Any] | None = None  # CSV cells as an event; None for JSON text in `raw`
    error: str | None = None  # unreadable before validation
    format: str = "jsonl"
    csv_header: str | None = None  # the CSV header line, to read `raw` again later


def _undecodable(text: str) -> bool:
    """Whether surrogateescape put undecodable bytes in (UTF-8 refuses them: four times as
    fast as searching for them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


TOO_LONG = f"record longer than the limit of {MAX_RECORD_CHARS} characters"
UNCLOSED_QUOTE = (
    "unclosed quote: the record it starts runs to the end of the source, or over several "
    "lines with the wrong number of cells; the lines after this one are read again as records"
)
_SHOWN = 2000  # of an over-long record, the quarantine keeps its head
_BOM = "\ufeff"  # a UTF-8 byte order mark, which some exports put first


def _rest_skipped(stream: TextIO, line: str) -> bool:
    """Whether `line` was cut at the limit; if so the rest of it is read and dropped."""
    if len(line) < MAX_RECORD_CHARS or line.endswith("\n"):
        return False
    while (rest := stream.readline(MAX_RECORD_CHARS)) and not rest.endswith("\n"):
        pass
    return True


def _head(text: str) -> str:
    return decodable(text[:_SHOWN]) + "…"


def over_limit(line: int, text: str) -> Record:
    """A record refused for its length, its head kept for the quarantine."""
    return Record(line, _head(text), error=TOO_LONG)


def read_jsonl(stream: TextIO) -> Iterator[Record]:
    number = 0
    while True:
        line = stream.readline(MAX_RECORD_CHARS)
        if not line:
            return
        number += 1
        if number == 1:
            line = line.removeprefix(_BOM)
        if _rest_skipped(stream, line):
            yield over_limit(number, line)
            continue
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        if _undecodable(text):
            yield Record(number, decodable(text), error="not valid UTF-8")
            continue
        yield Record(number, text)


class _TooLong(Exception):
    """The record being read went past the limit (the rest of its line is skipped)."""


class _LineTap:
    """Feeds lines to the csv reader and remembers those of the current record; a record
    longer than the limit, on one line or several, stops the reader (see `read_csv`)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.number = 0
        self.taken: list[str] = []
        self.size = 0
        self.first = 1
        self.again: list[str] = []  # lines to read once more, the next one last
        self.ran_out = False  # the source ended inside the current record: an open quote

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        if self.again:
            line = self.again.pop()
        else:
            line = self.stream.readline(MAX_RECORD_CHARS)
            if not line:
                self.ran_out = bool(self.taken)
                raise StopIteration
            if self.number == 0:
                line = line.removeprefix(_BOM)
        self.number += 1
        if not self.taken:
            self.first, self.size = self.number, 0
        self.taken.append(line)
        self.size += len(line)
        if _rest_skipped(self.stream, line) or self.size > MAX_RECORD_CHARS:
            raise _TooLong
        return line

    def take(self) -> tuple[int, str]:
        raw = "".join(self.taken).rstrip("\r\n")
        self.taken = []
        return self.first, raw

    def take_first(self) -> tuple[int, str]:
        """The current record's first line; the lines after it are read again."""
        first, *rest = self.taken
        self.again.extend(reversed(rest))
        self.number = self.first
        self.taken = []
        self.ran_out = False
        return self.first, first.rstrip("\r\n")


def _allow_record_sized_fields() -> None:
    """Let the csv module read a cell as long as a whole record may be: its own limit
    (131,072 characters) would refuse a long quoted comment that the record limit allows,
    and leave the reader inside the quote. The limit is the process's, so it is only ever
    raised, here where a CSV reader is made (the reading process runs this too), not on
    import; `_LineTap` refuses a record past MAX_RECORD_CHARS before any cell reaches it."""
    if csv.field_size_limit() < MAX_RECORD_CHARS:
        csv.field_size_limit(MAX_RECORD_CHARS)


def read_csv(stream: TextIO) -> Iterator[Record]:
    """The records of a CSV source. One that cannot be read (too long, bad quoting) is one
    record refused, and reading goes on with the line after it.

    A quote left open runs on to the next quote character, however many lines later, and
    would swallow the records between. So a record that ends with the source inside a quote,
    runs over several lines with cells that do not match the header, or runs over several
    lines past the record limit, is taken for such a quote: its first line alone is refused,
    and the lines after it are read again as records of their own (a genuine record that long
    is refused line by line, none of it lost)."""
    _allow_record_sized_fields()
    tap = _LineTap(stream)
    reader = csv.reader(tap)
    header_problem = None
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    except (csv.Error, _TooLong) as exc:
        header, header_problem = [], str(exc) or TOO_LONG
        reader = csv.reader(tap)
    header_line = tap.take()[1][: _SHOWN if header_problem else None]
    if header_problem is None:
        header_problem = _header_problem(header)

    def record(line: int, raw: str, **kwargs: Any) -> Record:
        return Record(line, raw, format="csv", csv_header=header_line, **kwargs)

    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _TooLong:
            reader = csv.reader(tap)  # a reader stopped inside a quote would stay in it
            if len(tap.taken) > 1 and header_problem is None:
                # over several lines: most likely a quote left open, whose lines past the
                # limit would be lost unread; its first line alone is refused
                line, raw = tap.take_first()
                yield record(line, decodable(raw), error=f"{UNCLOSED_QUOTE} ({TOO_LONG})")
                continue
            line, raw = tap.take()
            yield record(line, _head(raw), error=TOO_LONG)
            continue
        except csv.Error as exc:
            line, raw = tap.take()
            yield record(line, decodable(raw), error=f"unreadable CSV: {exc}")
            continue
        if (
            header_problem is None  # then every record is refused whole anyway
            and (tap.ran_out or (len(tap.taken) > 1 and len(cells) != len(header)))
        ):
            line, raw = tap.take_first()
            yield record(line, decodable(raw), error=UNCLOSED_QUOTE)
            continue
        line, raw = tap.take()
        if not any(cell.strip() for cell in cells):
            continue
        if _undecodable(raw):
            yield record(line, decodable(raw), error="not valid UTF-8")
        elif header_problem is not None:
            yield record(line, raw, error=f"CSV header: {header_problem}")
        elif len(cells) != len(header):
            yield record(line, raw, error=f"{len(cells)} cells, but the header has {len(header)}")
        else:
            yield record(line, raw, fields=csv_event(dict(zip(header, cells, strict=True))))


def _header_problem(header: list[str]) -> str | None:
    """Why no record can be read by this header: a column named twice would have one of its
    cells silently dropped."""
    named = [name for name in header if name]
    twice = sorted({name for name in named if named.count(name) > 1})
    if twice:
        return "column " + ", ".join(map(repr, twice)) + " named more than once"
    if _undecodable(",".join(header)):
        return "not valid UTF-8"
    return None


def csv_event(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row shaped like the JSON event: `customer_*` nested, `drivers` split on `;`,
    scores read as numbers (a cell is text, a JSON score a number)."""
    event: dict[str, Any] = {}
    customer: dict[str, str] = {}
    for key, value in row.items():
        value = value.strip()
        if not value:
            continue
        if key.startswith("customer_"):
            customer[key.removeprefix("customer_")] = value
        elif key == "drivers":
            event["drivers"] = [d.strip() for d in value.split(";") if d.strip()]
        elif key in SCORES:
            event[key] = score_of_text(value)
        else:
            event[key] = value
    if customer:
        event["customer"] = customer
    return event


def with_idle_ticks(records: Iterator[Record], idle_seconds: float) -> Iterator[Record | None]:
    """Yield the records, and `None` whenever none arrived for `idle_seconds`: a live feed
    (`tail -f … | cxdesk ingest -`) gets its batches committed while it is quiet."""
    pipe: queue.Queue[Record | BaseException | None] = queue.Queue(maxsize=10_000)
    done = object()

    def pump() -> None:
        try:
            for record in records:
                pipe.put(record)
        except BaseException as exc:  # handed to the consumer, raised there
            pipe.put(exc)
        pipe.put(done)  # type: ignore[arg-type]

    threading.Thread(target=pump, daemon=True, name="ingest-reader").start()
    while True:
        try:
            item = pipe.get(timeout=idle_seconds)
        except queue.Empty:
            yield None
            continue
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
