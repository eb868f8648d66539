"""A problem's metric over an interval, as one figure and the answers it counts: the figure a
problem opened by hand starts from, and the one its verification ends with. The metric
alerts' checks compute their figures with the same arithmetic (`nps_of`, `csat_of`), over the
same rows, so a verification compares like with like.

Figures and which way is better:
- touchpoint_nps_drop, touchpoint_nps: NPS of the touchpoint's answers (higher is better);
- queue_csat_drop: CSAT % of the feedback on the queue's tickets (higher);
- driver_detractors: % of NPS answers on cases of the driver that are 0–6 (lower);
- complaints_rising: complaints a day (lower; the count is the answers, no minimum applies);
- gold_detractors: gold customers detracting (NPS ≤ 6) a day (lower).
An interval is closed at both ends, as the alerts' windows are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from cxdesk.models import Customer, FeedbackEvent, Ticket

HIGHER_IS_BETTER = frozenset({"touchpoint_nps_drop", "touchpoint_nps", "queue_csat_drop"})
COUNTED = frozenset({"complaints_rising"})  # a count: no minimum of answers applies
BY_HAND = {"driver": "driver_detractors", "touchpoint": "touchpoint_nps"}


@dataclass(frozen=True)
class Figure:
    value: float | None  # None: nothing to compute it from
    answers: int


def nps_of(promoters: int, detractors: int, answers: int) -> float | None:
    """% promoters − % detractors."""
    return 100 * (promoters - detractors) / answers if answers else None


def csat_of(satisfied: int, answers: int) -> float | None:
    """% of answers 4–5."""
    return 100 * satisfied / answers if answers else None


def recovered(metric: str, threshold: float, after: float) -> bool:
    """Whether `after` is back past the threshold the problem was opened at (strictly: the
    threshold is where the alert fires)."""
    return after > threshold if metric in HIGHER_IS_BETTER else after < threshold


def measure(
    session: Session, metric: str, value: str | None, since: datetime, until: datetime
) -> Figure:
    """The metric of the scope `value` over [since, until]."""
    within = (col(FeedbackEvent.occurred_at) >= since, col(FeedbackEvent.occurred_at) <= until)
    nps = col(FeedbackEvent.nps)
    days = max((until - since) / timedelta(days=1), 1.0)
    if metric in ("touchpoint_nps_drop", "touchpoint_nps", "driver_detractors"):
        statement = select(
            func.count(nps),
            func.sum(case((nps >= 9, 1), else_=0)),
            func.sum(case((nps <= 6, 1), else_=0)),
        ).where(*within, nps.is_not(None))
        if metric == "driver_detractors":
            statement = statement.join(Ticket, col(Ticket.id) == FeedbackEvent.ticket_id).where(
                Ticket.driver == value
            )
        else:
            statement = statement.where(FeedbackEvent.touchpoint == value)
        answers, promoters, detractors = session.exec(statement).one()
        answers, promoters, detractors = (
            int(answers or 0),
            int(promoters or 0),
            int(detractors or 0),
        )
        if metric == "driver_detractors":
            return Figure(100 * detractors / answers if answers else None, answers)
        return Figure(nps_of(promoters, detractors, answers), answers)
    if metric == "queue_csat_drop":
        csat = col(FeedbackEvent.csat)
        answered, satisfied = session.exec(
            select(func.count(csat), func.sum(case((csat >= 4, 1), else_=0)))
            .join(Ticket, col(Ticket.id) == FeedbackEvent.ticket_id)
            .where(*within, csat.is_not(None), Ticket.queue_id == value)
        ).one()
        return Figure(csat_of(int(satisfied or 0), int(answered or 0)), int(answered or 0))
    if metric == "complaints_rising":
        count = session.exec(
            select(func.count()).where(*within, FeedbackEvent.kind == "complaint")
        ).one()
        return Figure(count / days, int(count))
    if metric == "gold_detractors":
        gold = (*within, nps.is_not(None), Customer.tier == "gold")
        joined = select(func.count(nps)).join(
            Customer, col(Customer.id) == FeedbackEvent.customer_id
        )
        answers = session.exec(joined.where(*gold)).one()
        detractors = session.exec(
            select(func.count(func.distinct(FeedbackEvent.customer_id)))
            .join(Customer, col(Customer.id) == FeedbackEvent.customer_id)
            .where(*gold, nps <= 6)
        ).one()
        return Figure(detractors / days, int(answers))
    return Figure(None, 0)
