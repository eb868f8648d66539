"""`cxdesk rules backtest`: the stored feedback replayed through a rule set, read only.

What the rules would have done is set beside what the stored history says ingest did, so a
proposed rule set can be judged on real volumes before it is configured.

The model of cases, in event order (oldest first, then by event id): a customer has an open
case at `since` if the database shows one opened before it and not closed by then; that case
stays open until it was closed. An alert for a customer with an open case attaches to it;
otherwise it opens one, which stays open until the stored ticket its event went to was
closed, or, when the event went to none (a new alert), to the end of the replay. The
customer's name and tier are as stored now. Nothing is written: one read transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cxdesk.config import AlertRuleConfig, Settings, parse_rules_file
from cxdesk.db import Database
from cxdesk.errors import ConfigError
from cxdesk.workflow.basics.progress import Progress
from cxdesk.workflow.intake.backtest_reads import (
    LEADING,
    Window,
    open_cases_at,
    recorded_alerts,
    replay_count,
    replay_rows,
)
from cxdesk.workflow.intake.rules import RuleSet, rule_errors

EXAMPLES = 3  # event ids shown for each change
PROGRESS_EVERY = 1_000  # events


def proposed_rules(text: str, source: str, settings: Settings) -> list[AlertRuleConfig]:
    """The rules of a proposed file, refused with the file's name and the first problem:
    bad TOML, a bad rule, an unknown queue, a duplicate name, a condition that fails to
    compile."""
    rules = parse_rules_file(text, source, settings.queues).rules
    errors = rule_errors(rules)
    if errors:
        raise ConfigError(f"{source}: {errors[0]}")
    return rules


@dataclass
class Figures:
    """One rule's events (on one day, or in all)."""

    fired: int = 0  # events it held for
    decided: int = 0  # of those, the ones whose alert it is (the most urgent that held)
    opened: int = 0  # of those, alerts that open a case
    attached: int = 0  # and alerts that join the customer's open case
    failed: int = 0  # events it failed on, counted as not fired (as ingest counts them)

    def add(self, other: Figures) -> None:
        self.fired += other.fired
        self.decided += other.decided
        self.opened += other.opened
        self.attached += other.attached
        self.failed += other.failed


@dataclass
class Change:
    """One rule's alerts as recorded against those the replay gives it."""

    recorded: int = 0
    now: int = 0
    newly: int = 0  # now under the rule, recorded under another or none
    no_longer: int = 0  # recorded under the rule, now under another or none
    newly_examples: list[str] = field(default_factory=list)
    no_longer_examples: list[str] = field(default_factory=list)


@dataclass
class Backtest:
    window: Window
    timezone: str
    rules: list[AlertRuleConfig]
    replayed: int = 0  # events judged
    # Events whose stored time cannot be put on a day (written outside cxdesk): left out.
    unplaced: list[str] = field(default_factory=list)
    open_at_start: int = 0  # customers with a case open at `since`
    days: dict[tuple[str, date], Figures] = field(default_factory=dict)  # (rule, local day)
    queues: dict[tuple[str, str], Figures] = field(default_factory=dict)  # (priority, queue)
    changes: dict[str, Change] = field(default_factory=dict)  # by rule name

    def totals(self) -> dict[str, Figures]:
        """Each rule's figures over the whole window, in the rule set's order (rules that are
        not in it, met in the recorded alerts only, have none)."""
        totals = {rule.name: Figures() for rule in self.rules}
        for (name, _), figures in self.days.items():
            totals[name].add(figures)
        return totals

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data, the rows of each table in a stable order."""
        rules = {rule.name: rule for rule in self.rules}
        gone = sorted(set(self.changes) - set(rules))  # rules only the recorded alerts name
        order = {name: n for n, name in enumerate([*rules, *gone])}
        return {
            "since": _instant(self.window.since),
            "until": _instant(self.window.until),
            "timezone": self.timezone,
            "replayed": self.replayed,
            "unplaced": len(self.unplaced),
            "unplaced_examples": self.unplaced[:EXAMPLES],
            "alerts_recorded": sum(c.recorded for c in self.changes.values()),
            "alerts_now": sum(c.now for c in self.changes.values()),
            "cases_open_at_since": self.open_at_start,
            "rules": [
                {"rule": name, "priority": rules[name].priority, "queue": rules[name].queue}
                | vars(figures)
                for name, figures in self.totals().items()
            ],
            "days": [
                {
                    "rule": name,
                    "day": day.isoformat(),
                    "priority": rules[name].priority,
                    "queue": rules[name].queue,
                }
                | vars(figures)
                for (name, day), figures in sorted(
                    self.days.items(), key=lambda item: (order[item[0][0]], item[0][1])
                )
            ],
            "queues": [
                {"priority": priority, "queue": queue, "opened": f.opened, "attached": f.attached}
                for (priority, queue), f in sorted(self.queues.items())
            ],
            "changes": [
                {"rule": name} | vars(change)
                for name, change in sorted(self.changes.items(), key=lambda i: order[i[0]])
            ],
        }


def _instant(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def backtest(
    db: Database,
    settings: Settings,
    rules: list[AlertRuleConfig],
    window: Window,
    progress: Progress | None = None,
) -> Backtest:
    """Replay the stored events of `window` through `rules` (see the module's model);
    `progress` is told the events replayed, every `PROGRESS_EVERY`."""
    rule_set = RuleSet(rules)
    result = Backtest(window, settings.timezone, list(rules))
    with db.session() as session:
        connection = session.connection()
        recorded = recorded_alerts(connection, window)
        cases = {} if window.since is None else open_cases_at(connection, window.since)
        result.open_at_start = len(cases)
        rows = replay_rows(connection, rule_set.symbols, window)
        if progress is not None:
            rows = _told(rows, progress, replay_count(connection, window))
        _Replay(rule_set, result, recorded, cases, ZoneInfo(settings.timezone)).run(rows)
    return result


def _told(
    rows: Iterator[tuple[Any, ...]], progress: Progress, total: int
) -> Iterator[tuple[Any, ...]]:
    """`rows`, telling `progress` how many have passed every `PROGRESS_EVERY` and at the end."""
    done = 0
    for done, row in enumerate(rows, start=1):
        if done % PROGRESS_EVERY == 0:
            progress("backtest", done, total)
        yield row
    progress("backtest", done, total)


class _Replay:
    """The replay's state: the open cases by customer and the days met so far."""

    def __init__(
        self,
        rule_set: RuleSet,
        result: Backtest,
        recorded: dict[str, str],
        cases: dict[str, datetime | None],
        zone: ZoneInfo,
    ) -> None:
        self.rule_set = rule_set
        self.result = result
        self.recorded = recorded
        self.cases = cases  # by customer: when their open case closes (None: after the replay)
        self.zone = zone
        self.index = {rule.name: n for n, rule in enumerate(rule_set.configs)}
        self.day_figures: dict[tuple[int, date], Figures] = {}
        self._day: tuple[datetime, datetime, date] | None = None  # [start, end) of the last day

    def run(self, rows: Iterator[tuple[Any, ...]]) -> None:
        fired_by, alert_of, recorded = self.rule_set.fired_by, self.rule_set.alert_of, self.recorded
        unchanged: dict[str, int] = {}  # by rule: alerts recorded under it and decided by it now
        replayed = 0
        for row in rows:
            replayed += 1
            fired = fired_by(row[LEADING:])
            before = recorded.pop(row[0], None)
            if not fired:  # most events
                if before is not None:
                    self._changed(row[0], before, None)
                continue
            try:
                day = self._local_day(row[1])
            except (OverflowError, ValueError, TypeError, AttributeError):
                self.result.unplaced.append(row[0])
                continue
            alert = alert_of(fired)
            decisive = None if alert is None else alert.decisive.name
            self._count(row, day, fired, decisive)
            if before == decisive:
                if before is not None:
                    unchanged[before] = unchanged.get(before, 0) + 1
            else:
                self._changed(row[0], before, decisive)
        for name, count in unchanged.items():
            change = self._change(name)
            change.recorded += count
            change.now += count
        names = [rule.name for rule in self.rule_set.configs]
        self.result.replayed = replayed
        self.result.days = {(names[n], day): f for (n, day), f in self.day_figures.items()}

    def _count(
        self, row: tuple[Any, ...], day: date, fired: tuple[int, ...], decisive: str | None
    ) -> None:
        _, at, customer, closes = row[:LEADING]
        figures = self.day_figures
        for n in fired:
            key = (n if n >= 0 else ~n, day)
            if key not in figures:
                figures[key] = Figures()
            if n >= 0:
                figures[key].fired += 1
            else:
                figures[key].failed += 1
        if decisive is None:  # only failures
            return
        rule = self.rule_set.configs[self.index[decisive]]
        mine = figures[(self.index[decisive], day)]
        queue = (rule.priority, rule.queue)
        by_queue = self.result.queues.get(queue) or self.result.queues.setdefault(queue, Figures())
        mine.decided += 1
        by_queue.decided += 1
        case_closes = self.cases.get(customer, at)
        if case_closes is None or case_closes > at:
            mine.attached += 1
            by_queue.attached += 1
            return
        mine.opened += 1
        by_queue.opened += 1
        self.cases[customer] = closes if closes is not None and closes > at else None

    def _changed(self, event_id: str, before: str | None, now: str | None) -> None:
        """An event whose alert is now under another rule than recorded, or under none."""
        if before is not None:
            was = self._change(before)
            was.recorded += 1
            was.no_longer += 1
            if len(was.no_longer_examples) < EXAMPLES:
                was.no_longer_examples.append(event_id)
        if now is not None:
            will = self._change(now)
            will.now += 1
            will.newly += 1
            if len(will.newly_examples) < EXAMPLES:
                will.newly_examples.append(event_id)

    def _change(self, name: str) -> Change:
        changes = self.result.changes
        if name not in changes:
            changes[name] = Change()
        return changes[name]

    def _local_day(self, at: datetime) -> date:
        """The day of `at` in the configured timezone; events come in time order, so the last
        day's bounds answer for most."""
        known = self._day
        if known is not None and known[0] <= at < known[1]:
            return known[2]
        day = at.astimezone(self.zone).date()
        start = datetime.combine(day, time(0), self.zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)
        self._day = (start, end, day)
        return day
