"""The running clock as plain text: marker, working time left and the local due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from cxdesk.workflow.clocks.sla import ClockReading, SlaState, due_text, sla_text

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai
TZ = "Asia/Shanghai"


def test_today_shows_the_time_only() -> None:
    assert due_text(datetime(2026, 3, 4, 6, 0, tzinfo=UTC), NOW, TZ) == "14:00"


def test_within_a_week_shows_the_weekday() -> None:
    assert due_text(datetime(2026, 3, 6, 6, 0, tzinfo=UTC), NOW, TZ) == "Fri 14:00"
    assert due_text(datetime(2026, 2, 27, 6, 0, tzinfo=UTC), NOW, TZ) == "Fri 14:00"


def test_further_away_shows_the_date() -> None:
    assert due_text(datetime(2026, 3, 18, 6, 0, tzinfo=UTC), NOW, TZ) == "03-18 14:00"


def test_the_date_is_the_local_one() -> None:
    # 17:00 UTC on the 4th is 01:00 on the 5th in Shanghai: tomorrow there, not today.
    assert due_text(datetime(2026, 3, 4, 17, 0, tzinfo=UTC), NOW, TZ) == "Thu 01:00"


def test_the_states_carry_the_desks_markers() -> None:
    due = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
    breached = ClockReading(SlaState.BREACHED, -timedelta(days=3, hours=21))
    at_risk = ClockReading(SlaState.AT_RISK, timedelta(hours=1, minutes=20))
    ok = ClockReading(SlaState.OK, timedelta(hours=1, minutes=20))
    assert sla_text(breached, due, NOW, TZ) == "!BREACHED 3d 21h · 14:00"
    assert sla_text(at_risk, due, NOW, TZ) == "~1h 20m · 14:00"
    assert sla_text(ok, due, NOW, TZ) == "1h 20m · 14:00"
    assert sla_text(None, None, NOW, TZ) == ""


@given(st.datetimes(timezones=st.just(UTC)))
def test_any_due_time_is_short_and_ends_in_its_local_minute(due: datetime) -> None:
    from zoneinfo import ZoneInfo

    shown = due_text(due, NOW, TZ)
    assert len(shown) <= 20  # `9999-12-31 23:00 UTC` where the zone cannot hold it
    if due.year < 9999:
        assert shown.endswith(due.astimezone(ZoneInfo(TZ)).strftime("%H:%M"))
