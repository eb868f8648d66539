"""When to try again after a failed attempt: doubling waits, capped, the same every time
(no jitter), so that a retry's time can be told and tested."""

from __future__ import annotations

from datetime import datetime, timedelta


def retry_at(
    now: datetime,
    attempts: int,
    *,
    base: timedelta = timedelta(minutes=1),
    cap: timedelta = timedelta(hours=6),
) -> datetime:
    """The next try after `attempts` failed ones (1 → `base`, 2 → twice that, …), never
    waiting more than `cap`."""
    if attempts < 1:
        return now
    # Doubling past the cap's own exponent would only build a huge number to throw away.
    doublings = min(attempts - 1, max(cap // base, 1).bit_length()) if base > timedelta(0) else 0
    return now + min(base * (1 << doublings), cap)
