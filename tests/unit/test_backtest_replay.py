"""The backtest against ingest itself, over generated feeds ingested into an SQLite database in
memory: the configured rules give back, rule by rule, the alerts ingest recorded, the cases it
opened and the failures it counted; per-day figures add up to the rule's; a window split in
two adds up to the whole."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxdesk.config import AlertRuleConfig, Settings
from cxdesk.db import Database
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.intake.backtest import Backtest, Figures, backtest
from cxdesk.workflow.intake.backtest_reads import Window
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import read_jsonl
from cxdesk.workflow.ops.schema import upgrade_database

START = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: days turn soon
NOW = START + timedelta(days=30)
RULES = [
    *Settings().rules,
    AlertRuleConfig(name="late", condition='"late" in drivers', priority="P3", queue="billing"),
    # Fails on an event without a comment: counted as not fired, by ingest and the backtest.
    AlertRuleConfig(
        name="long", condition="comment.length > 12", priority="P3", queue="aftersales"
    ),
]
SETTINGS = Settings(rules=RULES)
TIERS = st.sampled_from(["gold", "silver", None])
COMMENTS = st.sampled_from([None, "系统故障", "the site is down", "nice staff", "slow delivery!"])

events = st.lists(
    st.fixed_dictionaries(
        {
            "customer": st.integers(0, 5),
            "kind": st.sampled_from(["survey", "complaint", "review"]),
            "nps": st.none() | st.integers(0, 10),
            "csat": st.none() | st.integers(1, 5),
            "comment": COMMENTS,
            "drivers": st.lists(st.sampled_from(["late", "price", "staff"]), max_size=2),
            "gap": st.integers(1, 600),  # minutes after the event before
        }
    ),
    min_size=1,
    max_size=40,
)


def feed(drawn: list[dict[str, Any]], tiers: list[str | None]) -> tuple[str, list[datetime]]:
    """JSON lines in time order; a customer keeps one tier (the backtest reads it as stored)."""
    lines, times, at = [], [], START
    for n, fields in enumerate(drawn):
        at += timedelta(minutes=fields["gap"])
        times.append(at)
        customer = fields["customer"]
        record = {
            "event_id": f"e{n:03d}",
            "kind": fields["kind"],
            "occurred_at": at.isoformat(),
            "customer": {"id": f"C{customer}", "tier": tiers[customer]},
            "nps": fields["nps"],
            "csat": fields["csat"],
            "comment": fields["comment"],
            "drivers": fields["drivers"],
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n", times


def summed(report: Backtest) -> dict[str, Figures]:
    """Each rule's figures added up from its days."""
    totals: dict[str, Figures] = {}
    for (name, _), figures in report.days.items():
        totals.setdefault(name, Figures()).add(figures)
    return totals


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=events, tiers=st.lists(TIERS, min_size=6, max_size=6), split=st.integers(0, 40))
def test_the_configured_rules_give_back_what_ingest_did(
    tmp_path_factory: Any, drawn: list[dict[str, Any]], tiers: list[str | None], split: int
) -> None:
    key = Path(tmp_path_factory.mktemp("key")) / "audit.key"
    db = Database("sqlite://", key_file=key)
    try:
        upgrade_database(db)
        with db.write() as session:
            sync_org(session, SETTINGS)
        text, times = feed(drawn, tiers)
        ingestor = Ingestor(db, SETTINGS, source="t", clock=lambda: NOW)
        summary = ingestor.run(read_jsonl(io.StringIO(text)))
        report = backtest(db, SETTINGS, RULES, Window())

        assert report.replayed == len(drawn)
        changes = report.changes
        assert sum(c.recorded for c in changes.values()) == summary.alerts
        for name, change in changes.items():
            assert (change.now, change.newly, change.no_longer) == (change.recorded, 0, 0), name
        totals = report.totals()
        assert {n: f for n, f in summed(report).items()} == {
            n: f for n, f in totals.items() if f != Figures()
        }
        for name, figures in totals.items():
            assert figures.decided == (changes[name].now if name in changes else 0)
        assert sum(f.opened for f in totals.values()) == summary.tickets_created
        failures = ingestor.rule_failures.get("long")
        assert totals["long"].failed == (0 if failures is None else failures.count)

        # Split at an event's time: the two halves' fires add up to the whole.
        at = times[min(split, len(times) - 1)]
        before = backtest(db, SETTINGS, RULES, Window(until=at)).totals()
        after = backtest(db, SETTINGS, RULES, Window(since=at)).totals()
        for name, figures in totals.items():
            assert figures.fired == before[name].fired + after[name].fired
            assert figures.decided == before[name].decided + after[name].decided
    finally:
        db.dispose()
