"""A window's feedback counts by scope, from the hourly rollups: the whole hours inside it
summed, and what lies between its edges and the nearest whole hours read from the events,
at most an hour's worth at each end. Read from the events alone (`rolled=False`), the same
counts are the reference the rollups must agree with (`cxdesk db rollups --check`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select

from cxdesk.db import DriverRead
from cxdesk.models import FeedbackRollup
from cxdesk.models.base import table_of
from cxdesk.workflow.loop.rollups import COUNTERS, HOUR, Counts, hour_of, scanned

_rollups = table_of(FeedbackRollup).c
# Built once and read on the driver, as `rollups.scanned`'s statements are: every window of
# every look sums them.
_ROLLED = DriverRead(
    select(_rollups.value, *(func.sum(_rollups[name]) for name in COUNTERS))
    .where(
        _rollups.dimension == bindparam("dimension"),
        _rollups.hour >= bindparam("first"),
        _rollups.hour < bindparam("last"),
    )
    .group_by(_rollups.value)
)


def window_counts(
    connection: Connection,
    dimension: str,
    start: datetime,
    end: datetime,
    *,
    inclusive: bool,
    rolled: bool = True,
) -> dict[str, Counts]:
    """The counts of the events from `start` to `end` (`inclusive` or not), by the value of
    `dimension` (`all`: the one value '')."""
    first = hour_of(start)
    if first < start:
        first += HOUR
    last = hour_of(end)
    if not rolled or first >= last:
        return scanned(connection, dimension, start, end, inclusive=inclusive)
    totals = _rolled(connection, dimension, first, last)
    if start < first:
        _add(totals, scanned(connection, dimension, start, first, inclusive=False))
    if last < end or inclusive:
        _add(totals, scanned(connection, dimension, last, end, inclusive=inclusive))
    return totals


def _rolled(
    connection: Connection, dimension: str, first: datetime, last: datetime
) -> dict[str, Counts]:
    """The sums of the rollups' hours from `first` up to (not including) `last`."""
    rows = _ROLLED.rows(connection, dimension=dimension, first=first, last=last)
    return {value: tuple(int(n) for n in counts) for value, *counts in rows}


def _add(totals: dict[str, Counts], more: dict[str, Counts]) -> None:
    for value, counts in more.items():
        before = totals.get(value)
        totals[value] = (
            counts if before is None else tuple(a + b for a, b in zip(before, counts, strict=True))
        )
