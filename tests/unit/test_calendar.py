"""Business calendars and SLA clocks: the edges, and properties that must always hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxdesk.config import CalendarConfig, Settings
from cxdesk.errors import ConfigError
from cxdesk.workflow.basics.instants import epoch_micros, from_epoch_micros
from cxdesk.workflow.clocks.calendar import BusinessCalendar
from cxdesk.workflow.clocks.sla import SlaState, format_remaining, read_clock

SHANGHAI = ZoneInfo("Asia/Shanghai")
NINE_TO_SIX = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture(scope="module")
def china() -> BusinessCalendar:
    settings = Settings()
    return BusinessCalendar(settings.calendar("cn-business"), settings.timezone)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_spring_festival_is_skipped_and_makeup_saturday_counted(china: BusinessCalendar) -> None:
    # Friday 13 Feb 2026, 17:00: 1 h left that day; Saturday 14 Feb is a make-up workday
    # (9 h); 15–23 Feb are the holiday; Tuesday 24 Feb gives 9 h; 5 h more on Wednesday.
    due = china.add(local(2026, 2, 13, 17, 0), timedelta(hours=24))
    assert due == local(2026, 2, 25, 14, 0)
    assert china.is_workday(date(2026, 2, 14))
    assert not china.is_workday(date(2026, 2, 16))


def test_opening_and_closing_minutes(china: BusinessCalendar) -> None:
    assert china.add(local(2026, 3, 2, 8, 0), timedelta(minutes=1)) == local(2026, 3, 2, 9, 1)
    assert china.add(local(2026, 3, 2, 17, 59), timedelta(minutes=1)) == local(2026, 3, 2, 18, 0)
    assert china.add(local(2026, 3, 2, 18, 0), timedelta(minutes=1)) == local(2026, 3, 3, 9, 1)
    assert china.between(local(2026, 3, 2, 18, 0), local(2026, 3, 3, 9, 0)) == timedelta(0)


def test_overnight_spans_and_extra_dates() -> None:
    night = BusinessCalendar(CalendarConfig(timezone="UTC", hours={"mon": ["22:00-06:00"]}), "UTC")
    monday_night = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert night.add(monday_night, timedelta(hours=6)) == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    # 7 h are left in this shift; the eighth hour is in next Monday's.
    assert night.add(monday_night, timedelta(hours=8)) == datetime(2026, 3, 9, 23, 0, tzinfo=UTC)
    own = BusinessCalendar(
        CalendarConfig(
            timezone="UTC",
            hours=NINE_TO_SIX,
            extra_holidays=[date(2026, 3, 3)],
            extra_workdays=[date(2026, 3, 7)],
        ),
        "UTC",
    )
    start = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    assert own.add(start, timedelta(hours=1)) == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert own.is_workday(date(2026, 3, 7)) and not own.is_workday(date(2026, 3, 8))


def test_dst_day_in_new_york_counts_real_hours() -> None:
    calendar = BusinessCalendar(
        CalendarConfig(
            timezone="America/New_York",
            always_open=False,
            hours={d: ["00:00-24:00"] for d in ("sat", "sun", "mon")},
        ),
        "UTC",
    )
    # Sunday 8 March 2026 has 23 hours in New York.
    start = datetime(2026, 3, 8, 0, 0, tzinfo=ZoneInfo("America/New_York"))
    end = datetime(2026, 3, 9, 0, 0, tzinfo=ZoneInfo("America/New_York"))
    assert calendar.between(start, end) == timedelta(hours=23)


def test_a_calendar_without_hours_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="opening hours"):
        BusinessCalendar(CalendarConfig(timezone="UTC"), "UTC")


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=60 * 24 * 40).map(lambda m: timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(start=instants, target=durations)
def test_business_time_between_start_and_due_equals_the_target(
    china: BusinessCalendar, start: datetime, target: timedelta
) -> None:
    due = china.add(start, target)
    assert due >= start
    assert china.between(start, due) == target


@settings(max_examples=150, deadline=None)
@given(start=instants, a=durations, b=durations)
def test_due_never_decreases_as_the_target_grows(
    china: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))
    assert china.add(start, small) <= china.add(start, large)


@settings(max_examples=150, deadline=None)
@given(start=instants, target=durations, pause_at=durations, pause_for=durations)
def test_pausing_never_shortens_the_time_owed(
    china: BusinessCalendar,
    start: datetime,
    target: timedelta,
    pause_at: timedelta,
    pause_for: timedelta,
) -> None:
    due = china.add(start, target)
    paused = start + pause_at
    resumed = paused + pause_for
    left = china.between(paused, due) if due > paused else timedelta(0)
    new_due = china.add(resumed, left) if due > paused else due
    assert new_due >= due
    assert china.between(resumed, new_due) == left


@settings(max_examples=100, deadline=None)
@given(end=instants, span=durations)
def test_subtract_is_the_inverse_of_add(
    china: BusinessCalendar, end: datetime, span: timedelta
) -> None:
    before = china.subtract(end, span)
    assert china.between(before, end) == span


def test_clock_readings() -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    due = now + timedelta(hours=1, minutes=23)
    assert read_clock(None, None, now) is None
    ok = read_clock(due, due - timedelta(minutes=30), now)
    assert ok is not None and ok.state is SlaState.OK and format_remaining(ok) == "1h 23m"
    risky = read_clock(due, now - timedelta(minutes=1), now)
    assert risky is not None and risky.state is SlaState.AT_RISK
    late = read_clock(now - timedelta(hours=2, minutes=5), None, now)
    assert late is not None and format_remaining(late) == "BREACHED 2h 05m"


def walked_add(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """Adding by walking the calendar day by day: what the span table must agree with."""
    day = start.astimezone(calendar.zone).date() - timedelta(days=1)
    while True:
        for opens, closes in calendar.spans(day):
            if closes > start:
                begin = max(opens, start)
                if duration <= closes - begin:
                    return begin + duration
                duration -= closes - begin
        day += timedelta(days=1)


def walked_subtract(calendar: BusinessCalendar, end: datetime, duration: timedelta) -> datetime:
    day = end.astimezone(calendar.zone).date() + timedelta(days=1)
    while True:
        for opens, closes in reversed(calendar.spans(day)):
            if opens < end:
                finish = min(closes, end)
                if duration <= finish - opens:
                    return finish - duration
                duration -= finish - opens
        day -= timedelta(days=1)


def walked_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    total, day = timedelta(0), start.astimezone(calendar.zone).date() - timedelta(days=1)
    while day <= end.astimezone(calendar.zone).date():
        for opens, closes in calendar.spans(day):
            if opens < end and closes > start:
                total += min(closes, end) - max(opens, start)
        day += timedelta(days=1)
    return total


WALKED = {
    "china": BusinessCalendar(Settings().calendar("cn-business"), "Asia/Shanghai"),
    "night shifts": BusinessCalendar(
        CalendarConfig(timezone="UTC", hours={"mon": ["22:00-06:00"], "thu": ["20:00-24:00"]}),
        "UTC",
    ),
    "split days in New York": BusinessCalendar(
        CalendarConfig(
            timezone="America/New_York",
            hours={d: ["08:00-12:00", "13:00-17:30"] for d in ("mon", "tue", "sat", "sun")},
            extra_holidays=[date(2026, 3, 9)],
            extra_workdays=[date(2026, 3, 11)],
        ),
        "UTC",
    ),
}


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(WALKED)),
    start=instants,
    target=durations,
    end_after=durations,
)
def test_the_span_table_agrees_with_walking_day_by_day(
    name: str, start: datetime, target: timedelta, end_after: timedelta
) -> None:
    calendar = WALKED[name]
    assert calendar.add(start, target) == walked_add(calendar, start, target)
    end = start + end_after
    assert calendar.between(start, end) == walked_between(calendar, start, end)
    assert calendar.subtract(end, target) == walked_subtract(calendar, end, target)


def test_working_time_across_centuries_is_refused_not_tabled(china: BusinessCalendar) -> None:
    with pytest.raises(ConfigError, match="more than 14640 days apart"):
        china.between(local(1900, 1, 1, 9, 0), local(2026, 3, 2, 9, 0))
    assert china.between(local(2026, 3, 2, 9, 0), local(2026, 3, 2, 10, 0)) == timedelta(hours=1)


YEAR_1900, YEAR_2200 = datetime(1900, 1, 1), datetime(2200, 1, 1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(YEAR_1900, YEAR_2200, timezones=st.sampled_from([UTC, SHANGHAI])),
    other=st.datetimes(YEAR_1900, YEAR_2200, timezones=st.just(UTC)),
)
def test_microseconds_since_the_epoch_keep_the_instant_and_its_order(
    moment: datetime, other: datetime
) -> None:
    utc = moment.astimezone(UTC)  # == across zones is False for a time in a DST gap (PEP 495)
    micros = epoch_micros(moment)
    back = from_epoch_micros(micros)
    assert back == utc and back.tzinfo is UTC
    assert (micros < epoch_micros(other)) == (utc < other)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 2, tzinfo=UTC)),
        (datetime(9999, 12, 31, tzinfo=UTC), datetime(9999, 12, 31, 23, tzinfo=UTC)),
        (local(1900, 1, 1, 9, 0), local(2026, 3, 2, 9, 0)),
    ],
)
def test_what_the_calendar_cannot_count_is_measured_as_elapsed(
    china: BusinessCalendar, start: datetime, end: datetime
) -> None:
    """Listings read clocks with `measured`: absurd dates show as absurd, never raise."""
    with pytest.raises(ConfigError, match="cannot count working time"):
        china.between(start, end)
    assert china.measured(start, end) == end - start
    assert china.measured(end, start) == timedelta(0)
    with pytest.raises(ConfigError, match="out of range"):
        china.add(datetime(9999, 12, 31, tzinfo=UTC), timedelta(hours=24))
