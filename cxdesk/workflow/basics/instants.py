"""Instants as whole microseconds since the epoch: exact for every aware datetime, and plain
integers where arithmetic or a wire format wants them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def epoch_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // MICROSECOND


def from_epoch_micros(micros: int) -> datetime:
    """The instant, in UTC's own tzinfo."""
    return _EPOCH + timedelta(0, 0, micros)  # by position: quicker than by keyword


def local_text(moment: datetime, timezone: str) -> str:
    """`2026-03-02 10:00` in `timezone`; in UTC, marked so, where the zone cannot hold it
    (the last hours of year 9999 east of Greenwich, as absurd stored data may have)."""
    try:
        return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    except OverflowError:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
