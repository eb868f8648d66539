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

from cxdesk.workflow.text import decodable

# Records per ingest transaction: big enough that a batch's fixed costs (look-ups, commit)
# are spread thin, small enough that a killed run redoes little and other writers wait
# under a second for the lock. A commit writes every page the batch touched to the log, and
# random index pages are touched again by each batch: at 5,000 the log took a fifth of
# ingest's time, at 10,000 under a tenth; 20,000 saved another ~5 %, 40,000 nothing more
# that could be told from noise. `cxdesk ingest --batch`.
BATCH_SIZE = 20_000

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
    """One record of a source, as read (a tuple, built in a third of a frozen dataclass's
    time)."""

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


def read_jsonl(stream: TextIO) -> Iterator[Record]:
    number = 0
    while True:
        line = stream.readline(MAX_RECORD_CHARS)
        if not line:
            return
        number += 1
        if len(line) >= MAX_RECORD_CHARS and not line.endswith("\n"):
            while (rest := stream.readline(MAX_RECORD_CHARS)) and not rest.endswith("\n"):
                pass
            yield Record(
                number,
                decodable(line[:2000]) + "…",
                error=f"record longer than the limit of {MAX_RECORD_CHARS} characters",
            )
            continue
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        if _undecodable(text):
            yield Record(number, decodable(text), error="not valid UTF-8")
            continue
        yield Record(number, text)


class _LineTap:
    """Feeds lines to the csv reader and remembers those of the current record."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.number = 0
        self.taken: list[str] = []
        self.first = 1

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(MAX_RECORD_CHARS)
        if not line:
            raise StopIteration
        self.number += 1
        if not self.taken:
            self.first = self.number
        self.taken.append(line)
        return line

    def take(self) -> tuple[int, str]:
        raw = "".join(self.taken).rstrip("\r\n")
        self.taken = []
        return self.first, raw


def read_csv(stream: TextIO) -> Iterator[Record]:
    tap = _LineTap(stream)
    reader = csv.reader(tap)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    header_line = tap.take()[1]

    def record(line: int, raw: str, **kwargs: Any) -> Record:
        return Record(line, raw, format="csv", csv_header=header_line, **kwargs)

    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line, raw = tap.take()
            yield record(line, decodable(raw), error=f"unreadable CSV: {exc}")
            continue
        line, raw = tap.take()
        if not any(cell.strip() for cell in cells):
            continue
        if _undecodable(raw):
            yield record(line, decodable(raw), error="not valid UTF-8")
        elif len(cells) != len(header):
            yield record(line, raw, error=f"{len(cells)} cells, but the header has {len(header)}")
        else:
            yield record(line, raw, fields=csv_event(dict(zip(header, cells, strict=True))))


def csv_event(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row shaped like the JSON event: `customer_*` nested, `drivers` split on `;`."""
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
