"""The SLA explanation over hand-built calendars, and against the planner it explains: over
random calendars and histories it arrives at the due times the planner stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxdesk.config import WEEKDAYS, CalendarConfig, PolicyConfig, Settings, Target
from cxdesk.i18n import Translator
from cxdesk.models import Queue, Ticket, TimelineEntry
from cxdesk.workflow.clocks.explain import (
    ClockExplanation,
    ClockNote,
    Happening,
    SlaExplanation,
    Step,
    explain_clocks,
)
from cxdesk.workflow.clocks.sla import SlaPlanner
from cxdesk.workflow.clocks.stretches import IntervalKind
from cxdesk.workflow.loop.opening import raise_priority
from cxdesk.workflow.reads.sla import clock_notes, happenings, pending_reasons

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = CalendarConfig(
    timezone="UTC",
    hours={day: ["09:00-17:00"] for day in WEEKDAYS[:5]},
    extra_holidays=[date(2026, 3, 11)],  # a Wednesday the office closes, unnamed
    extra_workdays=[date(2026, 3, 14)],  # a Saturday it works
)
HOURS = timedelta(hours=1)


def office_settings() -> Settings:
    target = Target(first_response=4 * HOURS, resolution=16 * HOURS)
    return Settings(
        calendars={"office": OFFICE},
        policies={"office": PolicyConfig(P1=target, P2=target, P3=target, at_risk=0.5)},
    )


def queue(calendar: str, policy: str = "default") -> Queue:
    return Queue(id="q", name="q", team_id="care", calendar=calendar, policy=policy)


@dataclass
class Driven:
    """A ticket driven through the planner as the commands drive it, and its history."""

    planner: SlaPlanner
    queue: Queue
    ticket: Ticket
    at: datetime
    history: list[Happening] = field(default_factory=list)

    @classmethod
    def open(cls, planner: SlaPlanner, queue: Queue, at: datetime, priority: str) -> Driven:
        ticket = Ticket(queue_id=queue.id, priority=priority, opened_at=at, updated_at=at)
        planner.start_clocks(ticket, queue, at)
        ticket.stage = "collect"  # claimed at once
        return cls(planner, queue, ticket, at, [Happening(at, Step.OPEN, priority)])

    def later(self, gap: timedelta) -> datetime:
        self.at += gap
        return self.at

    def pend(self, gap: timedelta, reason: str = "waiting") -> None:
        t = self.ticket
        t.paused_at, t.paused_from, t.stage = self.later(gap), t.stage, "pending"
        self.history.append(Happening(self.at, Step.PEND, t.priority, reason))

    def resume(self, gap: timedelta) -> None:
        t = self.ticket
        paused_at = t.paused_at
        assert paused_at is not None
        t.stage, t.paused_at = "collect", None
        self.planner.resume_clocks(t, self.queue, paused_at, self.later(gap))
        self.history.append(Happening(self.at, Step.RESUME, t.priority))

    def raise_priority(self, gap: timedelta) -> None:
        t = self.ticket
        t.priority = raise_priority(t.priority)
        self.planner.start_clocks(t, self.queue, t.reopened_at or t.opened_at)
        self.history.append(Happening(self.later(gap), Step.PRIORITY, t.priority))

    def respond(self, gap: timedelta) -> None:
        self.ticket.first_response_at = self.later(gap)

    def resolve(self, gap: timedelta) -> None:
        t = self.ticket
        t.resolved_at, t.stage = self.later(gap), "verify"
        self.history.append(Happening(self.at, Step.STOP, t.priority))

    def reopen(self, gap: timedelta) -> None:
        t = self.ticket
        t.reopened_at = self.later(gap)
        t.paused_seconds, t.resolved_at, t.stage = 0, None, "analyze"
        self.planner.start_clocks(t, self.queue, self.at)
        self.history.append(Happening(self.at, Step.REOPEN, t.priority))

    def explain(self, now: datetime, notes: list[ClockNote] | None = None) -> SlaExplanation:
        self.planner.refresh_running_clock(self.ticket, self.queue)
        return explain_clocks(
            self.planner, self.queue, self.ticket, 1, self.history, notes or [], now
        )


def kinds(clock: ClockExplanation) -> list[tuple[IntervalKind, str]]:
    return [(i.kind, i.note) for i in clock.intervals]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_weekend_and_the_hours_outside_the_office_are_not_counted() -> None:
    d = Driven.open(
        SlaPlanner(office_settings()), queue("office", "office"), utc(2026, 3, 6, 16), "P3"
    )
    first, _ = d.explain(utc(2026, 3, 6, 16, 30)).clocks
    assert first.due == first.replayed_due == utc(2026, 3, 9, 12)  # Monday noon
    assert kinds(first) == [
        (IntervalKind.COUNTED, ""),
        (IntervalKind.COUNTED, ""),  # the rest of the hour, ahead of now
        (IntervalKind.OUTSIDE_HOURS, ""),
        (IntervalKind.WEEKEND, ""),
        (IntervalKind.OUTSIDE_HOURS, ""),
        (IntervalKind.COUNTED, ""),
    ]
    assert [i.ahead for i in first.intervals] == [False, True, True, True, True, True]
    assert first.counted == timedelta(minutes=30)
    assert first.total_at(first.due) == first.target == 4 * HOURS
    assert first.at_risk_at == utc(2026, 3, 9, 10)  # half the target left
    assert first.state == "running"


def test_an_unnamed_holiday_and_a_makeup_saturday() -> None:
    d = Driven.open(
        SlaPlanner(office_settings()), queue("office", "office"), utc(2026, 3, 10, 9), "P3"
    )
    _, resolution = d.explain(utc(2026, 3, 10, 9)).clocks
    # Tuesday 8 h, Wednesday closed, Thursday 8 h: due Thursday 17:00, before the Saturday.
    assert resolution.due == utc(2026, 3, 12, 17)
    assert (IntervalKind.HOLIDAY, "") in kinds(resolution)
    d = Driven.open(
        SlaPlanner(office_settings()), queue("office", "office"), utc(2026, 3, 13, 9), "P3"
    )
    _, resolution = d.explain(utc(2026, 3, 13, 9)).clocks
    makeup = [i for i in resolution.intervals if i.kind is IntervalKind.MAKEUP]
    assert [(i.start, i.end, i.counted) for i in makeup] == [
        (utc(2026, 3, 14, 9), utc(2026, 3, 14, 17), 8 * HOURS)
    ]
    assert resolution.due == utc(2026, 3, 14, 17)
    assert resolution.total_at(resolution.due) == 16 * HOURS


def test_a_named_public_holiday_and_a_makeup_workday_in_china() -> None:
    # Friday 13 Feb 2026, 17:00 in Shanghai, P2 (24 working hours to first response): an hour
    # that day, the make-up Saturday's nine, the Spring Festival off, nine on Tuesday 24th,
    # five on Wednesday.
    opened = datetime(2026, 2, 13, 17, tzinfo=SHANGHAI)
    d = Driven.open(SlaPlanner(Settings()), queue("cn-business"), opened, "P2")
    first, _ = d.explain(opened).clocks
    assert first.calendar == "cn-business" and first.policy == "default"
    assert first.due == datetime(2026, 2, 25, 14, tzinfo=SHANGHAI) == first.replayed_due
    found = kinds(first)
    assert (IntervalKind.MAKEUP, "") in found
    holidays = {note for kind, note in found if kind is IntervalKind.HOLIDAY}
    assert "Chinese New Year (Spring Festival)" in holidays
    assert (IntervalKind.WEEKEND, "") in found  # Sunday 15th is neither holiday nor workday
    assert first.total_at(first.due) == 24 * HOURS


def test_a_pause_shows_its_reason_and_gives_its_working_time_back() -> None:
    d = Driven.open(
        SlaPlanner(office_settings()), queue("office", "office"), utc(2026, 3, 2, 9), "P3"
    )
    d.pend(HOURS, "waiting for photos \x1b[2J")
    d.resume(2 * HOURS)
    first, resolution = d.explain(utc(2026, 3, 2, 13)).clocks
    paused = [i for i in first.intervals if i.kind is IntervalKind.PAUSED]
    assert [(p.start, p.end, p.note, p.given_back) for p in paused] == [
        (utc(2026, 3, 2, 10), utc(2026, 3, 2, 12), "waiting for photos \x1b[2J", 2 * HOURS)
    ]
    assert first.given_back == resolution.given_back == timedelta(seconds=d.ticket.paused_seconds)
    assert first.due == utc(2026, 3, 2, 15) == d.ticket.first_response_due
    assert first.counted == 2 * HOURS  # 9–10 and 12–13
    assert first.total_at(first.due) == 4 * HOURS


def test_a_clock_still_pending_is_paused_up_to_now() -> None:
    d = Driven.open(
        SlaPlanner(office_settings()), queue("office", "office"), utc(2026, 3, 2, 9), "P3"
    )
    d.pend(HOURS, "customer abroad")
    first, _ = d.explain(utc(2026, 3, 2, 16)).clocks
    assert first.state == "paused"
    assert first.intervals[-1].kind is IntervalKind.PAUSED
    assert first.intervals[-1].end == utc(2026, 3, 2, 16)
    assert first.due == utc(2026, 3, 2, 13)  # as stored: it moves on when resumed


def test_a_reopen_restarts_the_resolution_clock_from_its_instant() -> None:
    d = Driven.open(
        SlaPlanner(office_settings()), queue("office", "office"), utc(2026, 3, 2, 9), "P3"
    )
    d.respond(HOURS)
    d.pend(HOURS)
    d.resume(HOURS)
    d.resolve(HOURS)
    d.reopen(timedelta(days=1))
    first, resolution = d.explain(utc(2026, 3, 3, 14)).clocks
    assert (first.state, first.stopped_at) == ("met", utc(2026, 3, 2, 10))
    assert first.intervals[-1].end == utc(2026, 3, 2, 10)
    restart = resolution.intervals[0]
    assert (restart.kind, restart.start, restart.note) == (
        IntervalKind.RESTARTED,
        utc(2026, 3, 3, 13),
        "reopened",
    )
    assert resolution.started_at == utc(2026, 3, 3, 13)
    assert resolution.given_back == timedelta(0)  # the earlier pause belongs to the last run
    assert resolution.due == d.ticket.resolution_due == resolution.replayed_due
    assert resolution.total_at(resolution.due) == 16 * HOURS


def test_a_priority_raise_plans_again_from_the_start_with_the_new_target() -> None:
    # Default policy: P3 answers in 72 working hours, P2 in 24, P1 in 2 on the 24x7 calendar.
    opened = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    d = Driven.open(SlaPlanner(Settings()), queue("cn-business"), opened, "P3")
    d.pend(HOURS)
    d.resume(HOURS)
    d.raise_priority(HOURS)  # P2, same calendar
    first, _ = d.explain(d.at).clocks
    restart = next(i for i in first.intervals if i.kind is IntervalKind.RESTARTED)
    assert restart.note == "priority P3 → P2" and restart.total == 2 * HOURS
    assert (first.priority, first.target) == ("P2", 24 * HOURS)
    assert first.due == d.ticket.first_response_due == first.replayed_due
    assert first.total_at(first.due) == 24 * HOURS
    d.raise_priority(HOURS)  # P1, on the 24x7 calendar: counted again from the opening
    first, _ = d.explain(d.at).clocks
    assert (first.calendar, first.target) == ("24x7", 2 * HOURS)
    last = [i for i in first.intervals if i.kind is IntervalKind.RESTARTED][-1]
    assert last.note == "priority P2 → P1"
    assert last.total == 4 * HOURS - timedelta(seconds=d.ticket.paused_seconds)
    assert first.due == d.ticket.first_response_due
    assert first.state == "breached"


def test_a_raise_while_pending_counts_up_to_the_pause_and_gives_the_pause_back() -> None:
    d = Driven.open(
        SlaPlanner(Settings()), queue("cn-business"), datetime(2026, 3, 2, 9, tzinfo=SHANGHAI), "P3"
    )
    d.pend(HOURS, "on hold")
    d.raise_priority(2 * HOURS)  # P2, two working hours into the pause
    d.resume(HOURS)
    now = d.later(HOURS)
    first, _ = d.explain(now).clocks
    assert [(i.kind, i.note) for i in first.intervals] == [
        (IntervalKind.COUNTED, ""),
        (IntervalKind.PAUSED, "on hold"),
        (IntervalKind.RESTARTED, "priority P3 → P2"),
        (IntervalKind.PAUSED, "on hold"),
        (IntervalKind.COUNTED, ""),
        (IntervalKind.COUNTED, ""),  # ahead
        (IntervalKind.OUTSIDE_HOURS, ""),
        (IntervalKind.COUNTED, ""),
        (IntervalKind.OUTSIDE_HOURS, ""),
        (IntervalKind.COUNTED, ""),
    ]
    assert first.counted == 2 * HOURS and first.given_back == 3 * HOURS
    assert first.due == d.ticket.first_response_due
    assert first.total_at(first.due) == 24 * HOURS


def test_a_second_raise_in_the_same_pause_counts_up_to_where_the_pause_began() -> None:
    # Two raises while pending: the second re-plans from the opening too, and must count the
    # working time up to the pause's start, not up to the first raise that cut the pause.
    minute = timedelta(minutes=1)
    target = Target(first_response=minute, resolution=minute)
    desk = Settings(
        calendars={"main": CalendarConfig(always_open=True)},
        policies={"random": PolicyConfig(P1=target, P2=target, P3=target, at_risk=0.75)},
    )
    d = Driven.open(SlaPlanner(desk), queue("main", "random"), utc(2026, 3, 1), "P3")
    d.pend(minute, "on hold")
    d.raise_priority(minute)  # P2
    d.raise_priority(minute)  # P1
    d.resume(minute)
    first, resolution = d.explain(d.later(minute)).clocks
    for clock in (first, resolution):
        assert clock.given_back == 3 * minute == timedelta(seconds=d.ticket.paused_seconds)
        assert clock.counted == 2 * minute  # 00:00–00:01 and 00:04–00:05
        raises = [i for i in clock.intervals if i.kind is IntervalKind.RESTARTED]
        assert [(i.note, i.counted, i.total) for i in raises] == [
            ("priority P3 → P2", timedelta(0), minute),
            ("priority P2 → P1", timedelta(0), minute),
        ]
    assert first.due == first.replayed_due == d.ticket.first_response_due


def test_a_resolution_without_a_reply_stops_the_first_response_clock_unmet() -> None:
    d = Driven.open(
        SlaPlanner(office_settings()), queue("office", "office"), utc(2026, 3, 2, 9), "P3"
    )
    d.resolve(HOURS)
    first, resolution = d.explain(utc(2026, 3, 2, 12)).clocks
    assert (first.state, first.stopped_at, first.counted) == ("stopped", utc(2026, 3, 2, 10), HOURS)
    assert (resolution.state, resolution.counted) == ("met", HOURS)


def test_years_of_a_clock_are_itemised_for_the_first_of_them_and_summed_after() -> None:
    settings_ = office_settings()
    d = Driven.open(SlaPlanner(settings_), queue("office", "office"), utc(2026, 3, 2, 9), "P3")
    now = utc(2029, 3, 2, 9)
    first, _ = d.explain(now).clocks
    last = first.intervals[-1]
    assert last.kind is IntervalKind.NOT_ITEMISED and last.end == now
    calendar = SlaPlanner(settings_).calendar("office")
    assert first.counted == calendar.between(utc(2026, 3, 2, 9), now)
    assert first.state == "breached"


def test_breach_marks_and_the_sweeps_notes_are_marked() -> None:
    d = Driven.open(
        SlaPlanner(office_settings()), queue("office", "office"), utc(2026, 3, 2, 9), "P3"
    )
    d.ticket.first_response_breached_at = utc(2026, 3, 2, 13, 5)
    notes = [
        ClockNote(utc(2026, 3, 2, 11, 5), "first_response", "risk_noted", "at risk: due 21:00"),
        ClockNote(utc(2026, 3, 2, 13, 5), "first_response", "escalated", "escalated to level 1"),
        ClockNote(utc(2026, 3, 2, 13, 5), "resolution", "escalated", "not this clock's"),
    ]
    first, resolution = d.explain(utc(2026, 3, 2, 14), notes).clocks
    assert [(m.kind, m.at) for m in first.marks] == [
        ("at_risk", utc(2026, 3, 2, 11)),
        ("risk_noted", utc(2026, 3, 2, 11, 5)),
        ("due", utc(2026, 3, 2, 13)),
        ("breached", utc(2026, 3, 2, 13, 5)),
        ("escalated", utc(2026, 3, 2, 13, 5)),
    ]
    assert first.state == "breached" and first.breached_at == utc(2026, 3, 2, 13, 5)
    assert "escalated" in [m.kind for m in resolution.marks]


# -- against the planner, over random calendars and histories --------------------------------

minutes = st.integers(min_value=1, max_value=4 * 24 * 60).map(lambda m: timedelta(minutes=m))


@st.composite
def calendars(draw: st.DrawFn) -> CalendarConfig:
    if draw(st.integers(0, 9)) == 0:
        return CalendarConfig(always_open=True)
    hours: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        if draw(st.booleans()):
            opens = draw(st.integers(0, 22))
            closes = draw(st.integers(opens + 1, 24))
            hours[day] = [f"{opens:02d}:00-{closes:02d}:00"]
    if not hours:
        hours["mon"] = ["09:00-17:00"]
    days = st.dates(date(2026, 3, 1), date(2026, 6, 30))
    return CalendarConfig(
        timezone=draw(st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York"])),
        hours=hours,
        extra_holidays=draw(st.lists(days, max_size=6)),
        extra_workdays=draw(st.lists(days, max_size=4)),
        holidays=draw(st.sampled_from([None, None, "CN"])),
    )


@st.composite
def desks(draw: st.DrawFn) -> tuple[Settings, Queue]:
    def target() -> Target:
        return Target(
            first_response=draw(minutes),
            resolution=draw(minutes),
            calendar=draw(st.sampled_from([None, "other"])),
        )

    policy = PolicyConfig(P1=target(), P2=target(), P3=target(), at_risk=0.75)
    desk = Settings(
        calendars={"main": draw(calendars()), "other": draw(calendars())},
        policies={"random": policy},
    )
    return desk, queue("main", "random")


steps = st.lists(
    st.tuples(
        st.sampled_from(["pend", "resume", "raise", "respond", "resolve", "reopen"]), minutes
    ),
    max_size=12,
)


def drive(d: Driven, history: list[tuple[str, timedelta]]) -> None:
    """The steps the stage machine allows, in order; the others skipped."""
    t = d.ticket
    for step, gap in history:
        working = t.stage in ("collect", "analyze", "fix")
        if step == "pend" and working:
            d.pend(gap)
        elif step == "resume" and t.stage == "pending":
            d.resume(gap)
        elif step == "raise" and t.priority != "P1" and t.stage != "verify":
            d.raise_priority(gap)
        elif step == "respond" and t.first_response_at is None:
            d.respond(gap)
        elif step == "resolve" and working:
            d.resolve(gap)
        elif step == "reopen" and t.stage == "verify":
            d.reopen(gap)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    desk=desks(),
    opened=st.datetimes(datetime(2026, 3, 1), datetime(2026, 4, 30)).map(
        lambda m: m.replace(second=0, microsecond=0, tzinfo=UTC)
    ),
    priority=st.sampled_from(["P1", "P2", "P3"]),
    history=steps,
    wait=minutes,
)
def test_the_explanation_arrives_at_what_the_planner_stored(
    desk: tuple[Settings, Queue],
    opened: datetime,
    priority: str,
    history: list[tuple[str, timedelta]],
    wait: timedelta,
) -> None:
    settings_, q = desk
    planner = SlaPlanner(settings_)
    d = Driven.open(planner, q, opened, priority)
    drive(d, history)
    last_step = d.at
    now = d.later(wait)
    t = d.ticket
    first, resolution = d.explain(now).clocks
    assert first.due == first.replayed_due == t.first_response_due
    assert resolution.due == resolution.replayed_due == t.resolution_due
    assert resolution.given_back == timedelta(seconds=t.paused_seconds)
    calendar = planner.calendar_for(q, t.priority)
    for clock in (first, resolution):
        previous = clock.intervals[0]
        assert previous.start == clock.started_at
        for interval in clock.intervals[1:]:
            assert interval.start == previous.end  # no gap, no overlap
            assert interval.total == previous.total + interval.counted
            previous = interval
        if clock.state in ("running", "at_risk", "breached"):
            # Counted: the working time since the clock started, less what pauses gave back.
            assert clock.counted == calendar.between(clock.started_at, now) - clock.given_back
            assert clock.due is not None
            if clock.due > last_step:
                assert clock.total_at(clock.due) == clock.target
    running = first if t.first_response_at is None else resolution
    if running.state in ("running", "at_risk", "breached"):
        assert (running.due, running.at_risk_at) == (t.sla_due, t.sla_risk_at)


# -- the history read back from the record ------------------------------------------------


def test_the_history_is_read_off_the_audits_states_and_the_timeline() -> None:
    def state(stage: str, priority: str) -> dict[str, object]:
        return {"state": {"stage": stage, "priority": priority, "assignee": None}}

    audit = [
        (utc(2026, 3, 2, 9), state("new", "P3")),
        (utc(2026, 3, 2, 9, 5), state("collect", "P3")),  # claimed: nothing for the clocks
        (utc(2026, 3, 2, 10), state("pending", "P3")),
        (utc(2026, 3, 2, 11), {"state": {"priority": "P2"}}),  # ingest's attach: priority only
        (utc(2026, 3, 2, 12), state("collect", "P2")),
        (utc(2026, 3, 2, 13), state("verify", "P2")),
        (utc(2026, 3, 2, 14), state("analyze", "P1")),  # a bad follow-up: reopened, raised
        (utc(2026, 3, 2, 15), state("closed", "P1")),
    ]
    old_note = TimelineEntry(  # a pend's note from before the pause was marked
        ticket_id=1,
        at=utc(2026, 3, 2, 10),
        actor="ann",
        kind="note",
        body="pending: photos",
        data={"say": ["pending: {reason}", {"reason": "photos"}]},
    )
    steps = happenings(audit, pending_reasons([old_note]), "P1")
    assert [(h.at.hour, h.step, h.priority, h.note) for h in steps] == [
        (9, Step.OPEN, "P3", ""),
        (10, Step.PEND, "P3", "photos"),
        (11, Step.PRIORITY, "P2", ""),
        (12, Step.RESUME, "P2", ""),
        (13, Step.STOP, "P2", ""),
        (14, Step.REOPEN, "P1", ""),
        (15, Step.STOP, "P1", ""),
    ]


def test_the_sweeps_notes_are_read_by_clock() -> None:
    def entry(data: dict[str, object], kind: str = "escalation") -> TimelineEntry:
        return TimelineEntry(ticket_id=1, at=utc(2026, 3, 2), actor="cxdesk", kind=kind, data=data)

    notes = clock_notes(
        [
            entry(
                {
                    "clock": "first response",
                    "due": "2026-03-02T12:00:00+00:00",
                    "say": ["first response SLA at risk: due {due}", {"due": "2026-03-02 20:00"}],
                }
            ),
            entry({"clock": "resolution", "level": 2}),
            entry({"level": 1}),  # escalated by hand: not a clock's
            entry({"clock": "paused", "reason": "x"}, kind="note"),
        ]
    )
    assert [(n.clock, n.kind) for n in notes] == [
        ("first_response", "risk_noted"),
        ("resolution", "escalated"),
    ]
    zh = Translator("zh").said(notes[0].said)
    assert zh is not None and "2026-03-02 20:00" in zh and "SLA" in zh
