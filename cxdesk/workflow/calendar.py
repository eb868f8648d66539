"""Business calendars: adding and measuring time that only runs during opening hours.

Working days come from the `holidays` package when a country is set, which knows
public holidays *and* make-up workdays (China's 调休 Saturdays); a calendar's own
extra holidays and workdays override it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from cxdesk.config import WEEKDAYS, CalendarConfig
from cxdesk.errors import ConfigError

Span = tuple[time, time]
SEARCH_LIMIT_DAYS = 3 * 366


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
        self._country_days = None
        self._spans_cache: dict[date, list[tuple[datetime, datetime]]] = {}

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.country is not None:
            return self._country_calendar().is_working_day(day)
        return bool(self.weekly[day.weekday()])

    def _country_calendar(self):
        if self._country_days is None:
            self._country_days = _country_holidays(self.country)
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

    def _days_from(self, moment: datetime):
        # Start a day early so an overnight span that began yesterday is seen.
        day = moment.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(SEARCH_LIMIT_DAYS):
            yield day + timedelta(days=offset)
        raise ConfigError(f"calendar has no working time within {SEARCH_LIMIT_DAYS} days")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of working time has passed since `start`."""
        if self.always_open:
            return start + duration
        remaining = duration
        for day in self._days_from(start):
            for opens, closes in self.spans(day):
                if closes <= start:
                    continue
                begin = max(opens, start)
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        raise AssertionError("unreachable")  # _days_from raises first

    def subtract(self, end: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of working time before `end` (used for at-risk marks)."""
        if self.always_open:
            return end - duration
        remaining = duration
        day = end.astimezone(self.zone).date() + timedelta(days=1)
        for offset in range(SEARCH_LIMIT_DAYS):
            for opens, closes in reversed(self.spans(day - timedelta(days=offset))):
                if opens >= end:
                    continue
                finish = min(closes, end)
                if remaining <= finish - opens:
                    return finish - remaining
                remaining -= finish - opens
        raise ConfigError(f"calendar has no working time within {SEARCH_LIMIT_DAYS} days")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end is not after start."""
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        total = timedelta(0)
        for day in self._days_from(start):
            for opens, closes in self.spans(day):
                if opens >= end:
                    return total
                if closes > start:
                    total += min(closes, end) - max(opens, start)
        return total


@cache
def _country_holidays(country: str):
    import holidays

    return holidays.country_holidays(country)
