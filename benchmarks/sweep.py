"""Breach sweep at size: one `cxdesk sweep` pass over a million open tickets.

    python benchmarks/sweep.py [--db sweep-benchmark.db] [--tickets 1000000] [--rounds 7]
                               [--interval 30] [--build-only]

Builds (or reuses, with --db) an SQLite database of open tickets only — new, collect,
analyze, fix, pending and verify, opened over the last two weeks, with their feedback
events, first timeline entries and follow-up surveys — written in bulk with executemany as
`demo --size large` does: the alert rules pick each ticket's rule, priority and queue, and
the SLA planner computes every due time on the queues' calendars. The database stands as
earlier sweeps left it at the starting instant: every clock already past its at-risk point
was marked, every breach escalated, no follow-up left to expire.

Then it times sweep passes at `--interval` seconds apart, as `cxdesk watch --interval 30`
runs them. Each round makes two passes at the same instant:

- `new`: the first pass at that instant, which handles whatever became due since the last
  round (at-risk marks, breach escalations, follow-up expiries: counted in the output);
- `steady`: the same pass again, when nothing is left to do: the price of looking.

Prints JSON: per kind of pass the median and every round's time, split into finding the
work and doing it, what was handled, and the query plans of the finders. The metric alerts
are looked at on the first pass (then every `metric_alerts.every`, 5 minutes, longer than
the rounds take): its time is given apart. A reused database starts after the last pass
made in it, so each run works on fresh due tickets.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import AuditEntry, Stage, Ticket
from cxdesk.models.tickets import new_reply_token
from cxdesk.workflow.audit.chain import KEY_ACTION
from cxdesk.workflow.demo.large import LargeDemo
from cxdesk.workflow.demo.large_rows import (
    TICKET_COLUMNS,
    alert_entry,
    event_row,
    sql_time,
    ticket_row,
)
from cxdesk.workflow.demo.world import CHANNELS
from cxdesk.workflow.insight.metric_alerts import detect_metric_alerts
from cxdesk.workflow.ops.schema import upgrade_database
from cxdesk.workflow.sweep import SweepReport, explain_finders, sweep

START = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai: a working day
DAYS = 14
OPEN_STAGES = {
    Stage.NEW: 10,
    Stage.COLLECT: 20,
    Stage.ANALYZE: 14,
    Stage.FIX: 20,
    Stage.PENDING: 8,
    Stage.VERIFY: 12,
}
MARK_COLUMNS = ("risk_notified_for", "first_response_breached_at", "resolution_breached_at")
FOLLOWUP_COLUMNS = (
    "ticket_id",
    "status",
    "channel",
    "template",
    "send_at",
    "sent_at",
    "expires_at",
    "reply_token",
    "next_attempt_at",
)


class OpenBacklog(LargeDemo):
    """A million open tickets as a team would hold them after weeks of sweeps."""

    days = DAYS
    tables = {
        **LargeDemo.tables,
        "tickets": ("tickets", (*TICKET_COLUMNS, *MARK_COLUMNS)),
        "followups": ("followups", FOLLOWUP_COLUMNS),
    }

    def build(self, tickets: int, customers: int) -> str:
        self.start = self.builder.start = self.now - timedelta(days=DAYS)
        super().build(tickets, customers)
        return f"{tickets:,} open tickets, {customers:,} customers"

    def _ticket(self, number: int, opened: datetime, customer: Any, rows: dict[str, list]) -> None:
        rng, now = self.rng, self.now
        complaint = self._complaint(customer)
        stage = rng.choices(list(OPEN_STAGES), weights=list(OPEN_STAGES.values()))[0]
        if stage is Stage.VERIFY and opened > now - timedelta(hours=2):
            stage = Stage.FIX
        t = self._new_ticket(number, opened, customer, complaint, stage)
        if stage is not Stage.NEW and (stage is not Stage.COLLECT or rng.random() < 0.5):
            t.first_response_at = min(opened + timedelta(minutes=rng.randrange(5, 600)), now)
        if stage in (Stage.FIX, Stage.VERIFY):
            t.root_cause, t.driver = "analysed with the customer", complaint.driver
        if stage is Stage.VERIFY:  # resolved within the verify window: nothing expired yet
            earliest = max(opened + timedelta(hours=1), now - self.settings.verify.window)
            t.resolved_at = earliest + (now - earliest) * rng.random()
            t.resolution_code, t.action_taken = "fix", "handled with the customer"
            sent = rng.random() < 0.7
            rows["followups"].append(
                (
                    number,
                    "sent" if sent else "scheduled",
                    None,
                    "default",
                    sql_time(t.resolved_at),
                    sql_time(t.resolved_at) if sent else None,
                    sql_time(t.resolved_at + self.settings.verify.window),
                    new_reply_token(),
                    None if sent else sql_time(t.resolved_at),  # as resolving schedules it
                )
            )
        if stage is Stage.PENDING:
            t.paused_at, t.paused_from = min(opened + timedelta(hours=3), now), "collect"
        if stage not in (Stage.VERIFY, Stage.PENDING):
            self.planner.refresh_running_clock(t, self.queues[complaint.queue_id])
        # What the sweeps before `now` did: marked at-risk clocks, escalated breaches.
        risk_notified = fr_breached = res_breached = None
        escalation = 1 if rng.random() < 0.05 else 0
        if t.sla_risk_at is not None and t.sla_risk_at <= now:
            risk_notified = t.sla_due
        if t.first_response_at is None and t.first_response_due < now:
            fr_breached, escalation = t.first_response_due, max(escalation, 1)
        if t.first_response_at is not None and t.first_response_at > t.first_response_due:
            fr_breached, escalation = t.first_response_due, max(escalation, 1)
        if t.sla_due is not None and t.first_response_at is not None and t.sla_due < now:
            res_breached, escalation = t.sla_due, 2
        t.escalation_level = escalation
        event_id = f"open-{number:07d}"
        rows["tickets"].append(
            (
                *ticket_row(t),
                sql_time(risk_notified),
                sql_time(fr_breached and fr_breached + timedelta(seconds=15)),
                sql_time(res_breached and res_breached + timedelta(seconds=15)),
            )
        )
        rows["events"].append(
            event_row(
                event_id,
                complaint,
                at=opened,
                customer_id=customer.id,
                channel=rng.choice(CHANNELS),
                ticket_id=number,
            )
        )
        rows["timeline"].append(alert_entry(t, event_id))


def build(path: Path, tickets: int, customers: int, seed: int = 7) -> str:
    """A fresh database at `path` holding `tickets` open tickets (as of START)."""
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)
    try:
        return OpenBacklog(db, Settings(), seed=seed, now=START).build(tickets, customers)
    finally:
        db.dispose()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure(path: Path, rounds: int, interval: float) -> dict[str, Any]:
    """Sweep passes `interval` seconds apart from the last pass made in this database."""
    settings = Settings()
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)  # a database kept from an earlier run may predate the newest migrations
    with db.session() as session:
        # The row that keys the audit chain is written at the clock's time when the database
        # is made: taken for a pass, it put the first pass years after the backlog's due
        # times, which did all there was, and left the passes timed nothing to do.
        last = session.exec(
            select(func.max(AuditEntry.at)).where(AuditEntry.action != KEY_ACTION)
        ).one()
        open_tickets = session.exec(
            select(func.count()).select_from(Ticket).where(Ticket.stage != Stage.CLOSED)
        ).one()
    at = max(START, last) if last is not None else START
    plans = explain_finders(db, at)
    started = time.perf_counter()
    with db.session() as session:  # what a pass adds every `metric_alerts.every`
        detect_metric_alerts(session, settings, at)
    look_s = time.perf_counter() - started
    started = time.perf_counter()
    first = sweep(db, settings, at)
    first_s = time.perf_counter() - started
    new: list[tuple[float, SweepReport]] = []
    steady: list[tuple[float, SweepReport]] = []
    looks: list[float] = []
    for _ in range(rounds):
        at += timedelta(seconds=interval)
        for passes in (new, steady):
            started = time.perf_counter()
            report = sweep(db, settings, at)
            elapsed = time.perf_counter() - started
            if report.looked_at_metrics:  # timed apart: once in `metric_alerts.every`
                looks.append(elapsed)
                elapsed -= report.seconds["metric_alerts"]
            passes.append((elapsed, report))
        if steady[-1][1].at_risk or steady[-1][1].breaches or steady[-1][1].followups_expired:
            raise SystemExit(f"a second pass at the same instant acted: {report.as_dict()}")
    db.dispose()

    def handled(report: SweepReport) -> int:
        return report.at_risk + report.breaches + report.followups_expired

    def medians(passes: list[tuple[float, SweepReport]]) -> dict[str, Any]:
        return {
            "median_ms": _ms(statistics.median(s for s, _ in passes)),
            "all_ms": [_ms(s) for s, _ in passes],
            "find_median_ms": _ms(statistics.median(r.seconds["find"] for _, r in passes)),
            "act_median_ms": _ms(statistics.median(r.seconds["act"] for _, r in passes)),
            "handled_median": statistics.median(handled(r) for _, r in passes),
            "handled": [
                {k: v for k, v in r.as_dict().items() if k != "metric_alerts"} for _, r in passes
            ],
        }

    new_passes = medians(new)
    per_action = [r.seconds["act"] / handled(r) for _, r in new if handled(r)]
    # None where no pass had anything to do (a database too small for the interval)
    new_passes["act_per_ticket_median_ms"] = (
        _ms(statistics.median(per_action)) if per_action else None
    )
    return {
        "open_tickets": open_tickets,
        "interval_s": interval,
        "rounds": rounds,
        "new_pass": new_passes,
        "steady_pass": medians(steady),
        "first_pass": {
            "ms": _ms(first_s),
            "seconds": {k: round(v, 3) for k, v in first.seconds.items()},
            **first.as_dict(),
        },
        "metric_alerts_look_ms": _ms(look_s),
        "passes_that_looked_at_metrics_ms": [_ms(s) for s in looks],
        "plans": plans,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run(
    db: str | None = None,
    *,
    tickets: int = 1_000_000,
    customers: int = 200_000,
    rounds: int = 7,
    interval: float = 30,
) -> dict[str, Any]:
    """Build the database if `db` does not exist yet (kept for the next run), then measure."""
    path = Path(db or "sweep-benchmark.db")
    built = None
    if not path.exists():
        started = time.perf_counter()
        summary = build(path, tickets, customers)
        built = {"summary": summary, "seconds": round(time.perf_counter() - started, 1)}
    result = measure(path, rounds, interval)
    result["db"] = str(path)
    result["built"] = built
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sweep-benchmark.db", help="built here if missing")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--interval", type=float, default=30)
    parser.add_argument("--build-only", action="store_true", help="build --db, time nothing")
    args = parser.parse_args()
    if args.build_only:
        if Path(args.db).exists():
            raise SystemExit(f"{args.db} exists already")
        print(build(Path(args.db), args.tickets, args.customers))
        return
    result = run(
        args.db,
        tickets=args.tickets,
        customers=args.customers,
        rounds=args.rounds,
        interval=args.interval,
    )
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
