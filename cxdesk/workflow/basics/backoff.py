"""When to try a failed delivery again: exponential backoff, as a pure function so that every
sender (follow-up surveys, webhooks) waits the same way and a test can reason about it."""

from __future__ import annotations

from datetime import datetime, timedelta

_MICROSECOND = timedelta(microseconds=1)


def retry_at(
    now: datetime,
    attempts: int,
    *,
    base: timedelta = timedelta(minutes=1),
    cap: timedelta = timedelta(hours=6),
) -> datetime:
    """The next attempt after `attempts` failed ones (fewer than one counts as one): `base`
    after the first, doubling with each further failure (1, 2, 4, 8 … minutes), never longer
    than `cap`. Deterministic, without jitter: a sender retries rows one by one, not a crowd
    of clients at once. Reckoned in whole microseconds, so a thousand failures cost no more
    than ten."""
    base_us, cap_us = base // _MICROSECOND, cap // _MICROSECOND
    if base_us < 0 or cap_us < 0:
        raise ValueError("retry_at: base and cap must not be negative")
    doublings = max(attempts, 1) - 1
    if base_us and doublings >= cap_us.bit_length():  # base · 2^doublings is past the cap
        delay_us = cap_us
    else:
        delay_us = min(base_us << doublings, cap_us)
    return now + timedelta(microseconds=delay_us)
