"""Business calendars: adding and measuring time that only runs during opening hours.

Working days come from the `holidays` package when a country is set, which knows
public holidays *and* make-up workdays (China's 调休 Saturdays); a calendar's own
extra holidays and workdays override it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import accumulate
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cxdesk.config import WEEKDAYS, CalendarConfig
from cxdesk.errors import ConfigError
from cxdesk.workflow.basics.instants import MICROSECOND, epoch_micros, from_epoch_micros
from cxdesk.workflow.clocks.countries import country_holidays

if TYPE_CHECKING:
    from holidays import HolidayBase  # imported when a calendar first needs a country's days

Span = tuple[time, time]
SEARCH_LIMIT_DAYS = 3 * 366
MOST_DAYS_MEASURED = 40 * 366  # a table of spans this long takes a few MB


class DayKind(StrEnum):
    WORKDAY = "workday"
    MAKEUP = "makeup"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


class Unmeasurable(ConfigError):
    """Working time between instants too far apart, or too near the ends of time (year 1,
    year 9999), for the calendar to count."""


def _parse_span(text: str) -> Span:
    start, end = text.split("-")
    return _parse_time(start), _parse_time(end)


def _parse_time(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time.max if hour == 24 else time(hour, minute)


class BusinessCalendar:
    """Opening hours in one time zone; all inputs and outputs are aware datetimes."""

    def __init__(self, config: CalendarConfig, default_timezone: str) -> None:
        self.always_open = config.always_open
        self.zone = ZoneInfo(config.timezone or default_timezone)
        self.weekly: list[list[Span]] = [
            [_parse_span(s) for s in config.hours.get(day, [])] for day in WEEKDAYS
        ]
        # A make-up workday on a day with no hours of its own works a normal day.
        self.workday_spans = next((spans for spans in self.weekly if spans), [])
        self.extra_holidays = frozenset(config.extra_holidays)
        self.extra_workdays = frozenset(config.extra_workdays)
        self.country = config.holidays
        if not self.always_open and not self.workday_spans:
            raise ConfigError("a calendar that is not always_open needs opening hours")
        self._country_days: HolidayBase | None = None
        self._spans_cache: dict[date, list[tuple[datetime, datetime]]] = {}
        self._table = _SpanTable(date.max, date.min, [], (0, 0))  # built on first use

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.country is not None:
            return self._country_calendar(self.country).is_working_day(day)
        return bool(self.weekly[day.weekday()])

    def day_kind(self, day: date) -> tuple[DayKind, str | None]:
        """Why a local date works or not, for explaining a clock: a workday, a make-up
        workday (a day without hours of its own that works, such as a 调休 Saturday), a
        public holiday with its name (None for the calendar's own extra holidays), or a
        weekend."""
        if self.always_open:
            return DayKind.WORKDAY, None
        if self.is_workday(day):
            return (DayKind.WORKDAY if self.weekly[day.weekday()] else DayKind.MAKEUP), None
        if day in self.extra_holidays:
            return DayKind.HOLIDAY, None
        name = None if self.country is None else self._country_calendar(self.country).get(day)
        if name is not None:
            return DayKind.HOLIDAY, str(name)
        return DayKind.WEEKEND, None

    def _country_calendar(self, country: str) -> HolidayBase:
        if self._country_days is None:
            self._country_days = country_holidays(country)
        return self._country_days

    def spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of a local date as UTC instants (overnight spans run past it)."""
        cached = self._spans_cache.get(day)
        if cached is not None:
            return cached
        result: list[tuple[datetime, datetime]] = []
        if self.is_workday(day):
            for start, end in self.weekly[day.weekday()] or self.workday_spans:
                opens = datetime.combine(day, start, self.zone)
                if end == time.max:
                    closes = datetime.combine(day + timedelta(days=1), time(0), self.zone)
                elif end <= start:
                    closes = datetime.combine(day + timedelta(days=1), end, self.zone)
                else:
                    closes = datetime.combine(day, end, self.zone)
                result.append((opens.astimezone(UTC), closes.astimezone(UTC)))
        self._spans_cache[day] = result
        return result

    # Adding, subtracting and measuring search a table of the working spans (microseconds
    # since the epoch) with the working time done by each, instead of walking day by day:
    # ingest plans thousands of clocks a second, and a walk would step through every day of
    # calendar (nights, weekends, holidays) between a clock's start and its due time.

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of working time has passed since `start`."""
        try:
            return self._add(start, duration)
        except OverflowError:
            raise Unmeasurable(f"cannot plan working time from {start}: out of range") from None

    def _add(self, start: datetime, duration: timedelta) -> datetime:
        if self.always_open:
            return start + duration
        moment, needed = epoch_micros(start), duration // MICROSECOND
        table = self._covering(moment, moment)
        while True:
            i = bisect_right(table.closes, moment)  # the first span open after `start`
            target = table.done_by(moment) + needed
            if i < len(table.opens) and target <= table.done[-1]:
                break
            table = self._grown(moment, forward=True)
        j = bisect_left(table.done, target, lo=i)  # the first span by whose end it is done
        return from_epoch_micros(table.opens[j] + target - table.before[j])

    def subtract(self, end: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of working time before `end` (used for at-risk marks)."""
        try:
            return self._subtract(end, duration)
        except OverflowError:
            raise Unmeasurable(f"cannot plan working time up to {end}: out of range") from None

    def _subtract(self, end: datetime, duration: timedelta) -> datetime:
        if self.always_open:
            return end - duration
        moment, needed = epoch_micros(end), duration // MICROSECOND
        table = self._covering(moment, moment)
        while True:
            k = bisect_left(table.opens, moment)  # the spans opened before `end`
            target = table.done_by(moment) - needed
            if k and target >= 0:
                break
            table = self._grown(moment, forward=False)
        j = bisect_right(table.before, target, hi=k) - 1  # on a boundary, the later span
        return from_epoch_micros(table.opens[j] + target - table.before[j])

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end is not after start."""
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        first, last = epoch_micros(start), epoch_micros(end)
        table = self._covering(first, last)
        return timedelta(microseconds=table.done_by(last) - table.done_by(first))

    def working_spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The working periods within [start, end), cut to it, exactly as `between` counts
        them (overlapping spans once): their lengths add up to `between(start, end)`."""
        if end <= start:
            return []
        if self.always_open:
            return [(start, end)]
        first, last = epoch_micros(start), epoch_micros(end)
        table = self._covering(first, last)
        spans = []
        i = bisect_right(table.closes, first)
        while i < len(table.opens) and table.opens[i] < last:
            spans.append(
                (
                    from_epoch_micros(max(table.opens[i], first)),
                    from_epoch_micros(min(table.closes[i], last)),
                )
            )
            i += 1
        return spans

    def measured(self, start: datetime, end: datetime) -> timedelta:
        """`between`, or the elapsed time where the calendar cannot count working time (dates
        decades apart, or at the ends of time, as old data or a rehearsal's `--now` leave
        them): a listing shows an absurd clock as absurd, and never fails on it."""
        try:
            return self.between(start, end)
        except Unmeasurable:
            return max(end - start, timedelta(0))

    def _covering(self, first: int, last: int) -> _SpanTable:
        """The table, grown if need be to hold every span that touches the instants from
        `first` to `last`."""
        table = self._table
        if table.whole_from <= first and last < table.whole_until:
            return table
        try:
            low = self._local_date(first) - timedelta(days=1)  # yesterday's may run overnight
            high = self._local_date(last) + timedelta(days=1)
            if (high - low).days > MOST_DAYS_MEASURED:
                raise Unmeasurable(
                    f"cannot count working time from {low} to {high}: "
                    f"more than {MOST_DAYS_MEASURED} days apart"
                )
            if table.first > table.last:  # nothing built yet
                return self._build(low - _SLACK, high + _SLACK)
            return self._build(min(low - _SLACK, table.first), max(high + _SLACK, table.last))
        except OverflowError:
            raise Unmeasurable(
                f"cannot count working time from {from_epoch_micros(first)} to "
                f"{from_epoch_micros(last)}: out of range"
            ) from None

    def _grown(self, moment: int, *, forward: bool) -> _SpanTable:
        """The table with as many days again after (before) it, within the search limit of
        `moment`."""
        table = self._table
        reach = table.last - table.first + timedelta(days=1)
        bound = self._local_date(moment) + (_LIMIT if forward else -_LIMIT)
        if (table.last >= bound) if forward else (table.first <= bound):
            raise ConfigError(f"calendar has no working time within {SEARCH_LIMIT_DAYS} days")
        if forward:
            return self._build(table.first, min(table.last + reach, bound))
        return self._build(max(table.first - reach, bound), table.last)

    def _build(self, first: date, last: date) -> _SpanTable:
        spans = sorted(
            (epoch_micros(opens), epoch_micros(closes))
            for offset in range((last - first).days + 1)
            for opens, closes in self.spans(first + timedelta(days=offset))
        )
        merged: list[tuple[int, int]] = []
        for opens, closes in spans:
            if merged and opens <= merged[-1][1]:  # overlapping spans count once
                merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
            elif closes > opens:
                merged.append((opens, closes))
        # Spans of a date end by the next midnight: from the second date's start to the
        # end of the last, every span touching an instant is in the table.
        whole = (
            epoch_micros(datetime.combine(first + timedelta(days=1), time(0), self.zone)),
            epoch_micros(datetime.combine(last + timedelta(days=1), time(0), self.zone)),
        )
        self._table = _SpanTable(first, last, merged, whole)
        return self._table

    def _local_date(self, moment: int) -> date:
        return from_epoch_micros(moment).astimezone(self.zone).date()


class _SpanTable:
    """The working spans of the local dates `first` to `last`, in order, with the working
    time done before each opens and by the time each closes (counted from the first)."""

    def __init__(
        self, first: date, last: date, spans: list[tuple[int, int]], whole: tuple[int, int]
    ) -> None:
        self.first, self.last = first, last
        self.whole_from, self.whole_until = whole  # instants whose every span is here
        self.opens = [opens for opens, _ in spans]
        self.closes = [closes for _, closes in spans]
        self.done = list(accumulate(closes - opens for opens, closes in spans))
        self.before = [
            done - (closes - opens) for done, (opens, closes) in zip(self.done, spans, strict=True)
        ]

    def done_by(self, moment: int) -> int:
        """Working time done from the table's first span up to `moment`."""
        i = bisect_right(self.closes, moment)  # spans before it are over
        if i == len(self.opens):
            return self.done[-1] if i else 0
        return self.before[i] + max(0, moment - self.opens[i])


_LIMIT = timedelta(days=SEARCH_LIMIT_DAYS)
_SLACK = timedelta(days=31)  # built around what is asked, so a run of nearby dates reuses it
