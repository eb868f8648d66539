"""What the demo's customers are and say: drawn from the world (`world`) with the builder's
random numbers, in a fixed order, so that the same seed gives the same people and events."""

from __future__ import annotations

import random
from datetime import datetime

from pydantic import BaseModel

from cxdesk.workflow.demo.world import (
    BAD_COMMENTS,
    CHANNELS,
    DRIVERS,
    ENGLISH,
    GIVEN,
    GOOD_COMMENTS,
    JOURNEYS,
    SURNAMES,
    TOUCHPOINTS,
)
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn


def demo_customer(rng: random.Random, index: int) -> BaseModel:
    """The demo's customer number `index`: mostly Chinese names, some English ones."""
    if rng.random() < 0.8:
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice([1, 2])))
        email_name = f"user{index:04d}"
    else:
        name = rng.choice(ENGLISH)
        email_name = name.lower().replace(" ", ".")
    tier = rng.choices(["gold", "silver", "standard"], weights=[10, 25, 65])[0]
    return CustomerIn(
        id=f"C{100000 + index}",
        name=name,
        phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
        email=f"{email_name}@example.com",
        tier=tier,
    )


def demo_feedback(
    rng: random.Random, event_id: str, customer: BaseModel, at: datetime
) -> FeedbackEventIn:
    """A survey answer, complaint or review from `customer` at `at`, unhappy about three
    times in ten (a complaint always), with a driver of its touchpoint when unhappy."""
    kind = rng.choices(["survey", "complaint", "review"], weights=[76, 12, 12])[0]
    touchpoint = rng.choice(TOUCHPOINTS)
    unhappy = kind == "complaint" or rng.random() < 0.3
    nps = csat = ces = None
    if kind == "survey":
        nps = rng.randint(0, 6) if unhappy else rng.choice([7, 8, 9, 9, 10, 10])
        csat = rng.randint(1, 3) if unhappy else rng.randint(4, 5)
        ces = rng.randint(4, 7) if unhappy else rng.randint(1, 3)
    elif kind == "review":
        csat = rng.randint(1, 2) if unhappy else rng.randint(4, 5)
    comment = rng.choice(BAD_COMMENTS if unhappy else GOOD_COMMENTS)
    return FeedbackEventIn(
        event_id=event_id,
        kind=kind,
        occurred_at=at,
        customer=customer,
        channel=rng.choice(CHANNELS),
        touchpoint=touchpoint,
        journey=rng.choice(JOURNEYS),
        nps=nps,
        csat=csat,
        ces=ces,
        comment=comment or None,
        drivers=[rng.choice(DRIVERS[touchpoint])] if unhappy else [],
    )
