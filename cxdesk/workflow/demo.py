"""A realistic demo database, built by replaying sixty days of a CX team's work.

Feedback events arrive in time order and go through the same ingest path, alert rules
and ticket commands as real work, each at its simulated time; every ticket follows a
story (claimed, answered, analysed, resolved, verified or not) that stops wherever "now"
falls, so the database ends with tickets in every stage, some at risk, some breached.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import WorkflowError
from cxdesk.models import FeedbackEvent, Stage, Team, Ticket, TicketKind
from cxdesk.workflow.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.identity import current_login
from cxdesk.workflow.ingest import Ingestor, Outcome
from cxdesk.workflow.org import add_agent, set_meta, sync_org
from cxdesk.workflow.refs import ticket_ref
from cxdesk.workflow.service import SYSTEM_ACTOR, TicketService
from cxdesk.workflow.sweep import sweep
from cxdesk.workflow.templates import seed_templates

DAYS = 60
SMALL_EVENTS = 3300
SMALL_CUSTOMERS = 900
SWEEP_EVERY = timedelta(hours=6)

AGENTS = [
    # login, display name, role, teams, skills
    ("li.na", "李娜 Li Na", "supervisor", ["vip"], ["zh", "en", "phone"]),
    ("zhou.min", "周敏 Zhou Min", "admin", ["care", "vip"], ["zh"]),
    ("zhang.wei", "张伟 Zhang Wei", "agent", ["care"], ["zh", "phone"]),
    ("liu.yang", "刘洋 Liu Yang", "agent", ["care"], ["zh", "wechat"]),
    ("chen.jing", "陈静 Chen Jing", "agent", ["care"], ["zh", "email"]),
    ("yang.lei", "杨磊 Yang Lei", "agent", ["care"], ["zh", "phone", "wechat"]),
    ("emily.wu", "Emily Wu", "agent", ["care"], ["en", "email"]),
    ("huang.min", "黄敏 Huang Min", "agent", ["care"], ["zh", "app"]),
    ("zhao.li", "赵丽 Zhao Li", "agent", ["vip"], ["zh", "phone"]),
    ("sun.hao", "孙浩 Sun Hao", "agent", ["vip"], ["zh", "en"]),
    ("david.chen", "David Chen", "agent", ["vip"], ["en", "phone"]),
    ("xu.qing", "徐青 Xu Qing", "agent", ["vip", "care"], ["zh", "wechat"]),
    ("ma.jun", "马军 Ma Jun", "agent", ["care"], ["zh", "store"]),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
]
ENGLISH = [
    "Alice Wong",
    "Brian Lee",
    "Cathy Zhang",
    "Daniel Ho",
    "Eva Lin",
    "Frank Liu",
    "Grace Tan",
    "Henry Chow",
    "Ivy Sun",
    "Jack Ma",
    "Kelly Xu",
    "Leo Gao",
]
CHANNELS = ["app", "wechat", "phone", "email", "store", "web"]
TOUCHPOINTS = [
    "delivery",
    "installation",
    "billing",
    "app_login",
    "customer_service",
    "returns",
    "product_quality",
    "store_visit",
]
JOURNEYS = ["purchase", "delivery", "onboarding", "usage", "support", "renewal"]
DRIVERS = {
    "delivery": ["late_delivery", "damaged_package"],
    "installation": ["installer_no_show", "installation_quality"],
    "billing": ["price_dispute", "double_charge", "refund_delay"],
    "app_login": ["login_failure", "app_crash"],
    "customer_service": ["long_wait", "unhelpful_agent"],
    "returns": ["refund_delay", "return_rejected"],
    "product_quality": ["defect", "not_as_described"],
    "store_visit": ["long_wait", "staff_attitude"],
}
BAD_COMMENTS = [
    "快递晚了三天，没有任何通知。",
    "安装师傅没有按约定时间上门。",
    "账单多扣了一次费用，请尽快处理！",
    "App 登录一直失败，无法使用。",
    "客服电话等了四十分钟。",
    "退款申请两周了还没到账。",
    "产品到手就有划痕，和描述不符。",
    "门店工作人员态度很差。",
    "系统故障，订单提交不了。",
    "The parcel arrived late and the box was crushed.",
    "I was charged twice this month.",
    "Your app is down again, I cannot log in.",
    "Waited 40 minutes on the phone, nobody helped.",
    "Refund still not received after two weeks.",
    "The installer never showed up.",
    "Product stopped working after three days. Outage at the worst time.",
]
GOOD_COMMENTS = [
    "配送很快，包装完好。",
    "客服小姐姐很耐心，问题当场解决。",
    "安装师傅很专业，点赞！",
    "App 用起来很顺手。",
    "Fast delivery, great packaging.",
    "Support sorted it out in minutes, thanks!",
    "Love the new app update.",
    "Smooth installation, friendly staff.",
    "",
    "",
]
RESPONSES = [
    "您好，非常抱歉给您带来不便，我们已收到您的反馈，正在核实处理。",
    "Hello, thank you for telling us. I'm looking into this now and will update you today.",
    "您好，已为您加急处理，稍后会有专人联系您。",
]
NOTES = [
    "已联系物流，等待回复。",
    "Checked order history: two charges on the same day.",
    "客户要求周末上门。",
    "Asked the store manager for CCTV footage.",
]
ROOT_CAUSES = {
    "late_delivery": "华东仓爆仓，分拣延迟",
    "damaged_package": "Carrier mishandling at hub",
    "installer_no_show": "排班系统未同步预约",
    "installation_quality": "Installer skipped checklist",
    "price_dispute": "促销价未自动生效",
    "double_charge": "Payment gateway retried a timed-out call",
    "refund_delay": "退款审批卡在财务节点",
    "login_failure": "Token service outage",
    "app_crash": "Release 5.2 crash on older Android",
    "long_wait": "排班不足，高峰期人手短缺",
    "unhelpful_agent": "Knowledge base article outdated",
    "return_rejected": "退货政策解释有误",
    "defect": "供应商批次质量问题",
    "not_as_described": "Listing photos outdated",
    "staff_attitude": "门店培训缺失",
}
PROBLEMS = [
    ("华东配送延迟 Delivery delays in East China", "late_delivery", "aftersales"),
    ("App login failures after release 5.2", "login_failure", "aftersales"),
    ("退款处理慢 Refund processing slow", "refund_delay", "billing"),
]


@dataclass
class DemoReport:
    events: int = 0
    tickets: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)


Story = Iterator[tuple[timedelta, Callable[[datetime], None]]]


class DemoBuilder:
    """Replays the demo history into an initialised, empty database."""

    def __init__(self, db: Database, settings: Settings, *, seed: int, now: datetime) -> None:
        self.db = db
        self.settings = settings
        self.rng = random.Random(seed)
        self.now = now
        self.start = now - timedelta(days=DAYS)
        self.system = TicketService(db, settings, SYSTEM_ACTOR)
        self.me = current_login()
        self.services: dict[str, TicketService] = {}
        self.team_agents: dict[str, list[str]] = {}
        self._agenda: list[tuple[datetime, int, _Step]] = []
        self._owners: dict[int, tuple[TicketService, FeedbackEventIn, bool]] = {}
        self._active: set[int] = set()  # tickets with a story step on the agenda
        self._sequence = 0
        self._event_number = 0

    # -- setup ---------------------------------------------------------------------------

    def build(self, events: int = SMALL_EVENTS, customers: int = SMALL_CUSTOMERS) -> DemoReport:
        self.create_organisation()
        self.ingestor = Ingestor(self.db, self.settings, source="demo", clock=lambda: self.now)
        people = [self.customer(i) for i in range(customers)]
        times = sorted(
            self.start + timedelta(seconds=self.rng.uniform(0, DAYS * 86400)) for _ in range(events)
        )
        next_sweep = self.start + SWEEP_EVERY
        for at in [*times, self.now]:
            while next_sweep <= at:  # `cxdesk watch` ran all along
                self._run_agenda_until(next_sweep)
                report = sweep(self.db, self.settings, next_sweep)
                for key in report.metric_alerts:
                    self._schedule_problem(key, next_sweep)
                next_sweep += SWEEP_EVERY
            self._run_agenda_until(at)
            if at < self.now:
                self._feedback(self.rng.choice(people), at)
        self._problems()
        sweep(self.db, self.settings, self.now)
        return self._report()

    def create_organisation(self) -> None:
        with self.db.write() as session:
            sync_org(session, self.settings)
            seed_templates(session, self.start)
            set_meta(session, "demo", "true")
            agents = [a for a in AGENTS if a[0] != self.me]
            # Named by login: the name goes into customer-facing templates.
            agents.insert(0, (self.me, self.me, "supervisor", ["care", "vip"], ["zh", "en"]))
            for login, name, role, teams, skills in agents:
                add_agent(
                    session,
                    login=login,
                    display_name=name,
                    role=role,
                    teams=teams,
                    skills=skills,
                    at=self.start,
                )
                for team in teams:
                    self.team_agents.setdefault(team, []).append(login)
                self.services[login] = TicketService(self.db, self.settings, login)
            session.flush()
            session.get_one(Team, "care").supervisor = self.me
            session.get_one(Team, "vip").supervisor = "li.na"

    def customer(self, index: int) -> CustomerIn:
        rng = self.rng
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

    # -- feedback ------------------------------------------------------------------------

    def _feedback(self, customer: CustomerIn, at: datetime) -> None:
        rng = self.rng
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
        self._accept(
            FeedbackEventIn(
                event_id=self._event_id(),
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
            ),
            at,
        )

    def _event_id(self) -> str:
        self._event_number += 1
        return f"demo-{self._event_number:06d}"

    def _accept(self, event: FeedbackEventIn, at: datetime) -> None:
        """Through ingest, as a feed would deliver it; a new case gets a story."""
        raw = event.model_dump_json(exclude_none=True)
        result = self.ingestor.ingest_event(event, raw, received_at=at)
        if result.outcome is Outcome.CREATED and result.ticket_id and result.alert:
            story = self._story(result.ticket_id, result.alert.decisive.queue, event)
            self._schedule(result.ticket_id, at, story)
        elif result.outcome is Outcome.UPDATED and result.ticket_id:
            self._rework_if_reopened(result.ticket_id, at)

    # -- stories -------------------------------------------------------------------------

    def _schedule(self, ticket_id: int, at: datetime, story: Story) -> None:
        self._sequence += 1
        try:
            delay, action = next(story)
        except StopIteration:
            self._active.discard(ticket_id)
            return
        self._active.add(ticket_id)
        heapq.heappush(self._agenda, (at + delay, self._sequence, _Step(ticket_id, action, story)))

    def _rework_if_reopened(self, ticket_id: int, at: datetime) -> None:
        """A ticket reopened under no story of its own goes back to its owner."""
        if ticket_id in self._active or ticket_id not in self._owners:
            return
        if self._stage(ticket_id) == Stage.ANALYZE:
            self._schedule(ticket_id, at, self._work(ticket_id, *self._owners[ticket_id]))

    def _run_agenda_until(self, until: datetime) -> None:
        while self._agenda and self._agenda[0][0] <= until:
            at, _, step = heapq.heappop(self._agenda)
            try:
                step.action(at)
            except WorkflowError:
                # A new alert reopened the ticket under its story: the owner works it again.
                self._active.discard(step.ticket_id)
                self._rework_if_reopened(step.ticket_id, at)
                continue
            self._schedule(step.ticket_id, at, step.story)

    def _story(self, ticket_id: int, queue_id: str, event: FeedbackEventIn) -> Story:
        """What the team does with one ticket, as (delay, action) steps."""
        rng = self.rng
        with self.db.session() as session:
            assignee = session.get_one(Ticket, ticket_id).assignee  # the queue may assign it
        team = self.settings.queues[queue_id].team
        act = self.services[assignee or rng.choice(self.team_agents[team])]
        hours = lambda low, high: timedelta(hours=rng.uniform(low, high))  # noqa: E731
        # Only recent tickets may be neglected; older ones were worked off long ago.
        recent = event.occurred_at.astimezone(self.now.tzinfo) > self.now - timedelta(days=8)
        if recent and rng.random() < 0.25:
            return  # nobody gets to it: it breaches
        if assignee is None:
            yield hours(0.05, 3), lambda at: act.claim(ticket_id, at=at)
        if recent and rng.random() < 0.15:
            return  # taken and forgotten
        yield hours(0.1, 6), lambda at: act.respond(ticket_id, rng.choice(RESPONSES), at=at)
        self._owners[ticket_id] = (act, event, recent)
        yield from self._work(ticket_id, act, event, recent)

    def _work(
        self, ticket_id: int, act: TicketService, event: FeedbackEventIn, recent: bool
    ) -> Story:
        """Analyse, fix and verify; a failed verification goes round again."""
        rng = self.rng
        hours = lambda low, high: timedelta(hours=rng.uniform(low, high))  # noqa: E731
        driver = (event.drivers or [rng.choice(DRIVERS[event.touchpoint or "delivery"])])[0]
        cause = ROOT_CAUSES[driver]
        for _round in range(3):
            if rng.random() < 0.25:
                yield hours(0.5, 12), lambda at: act.note(ticket_id, rng.choice(NOTES), at=at)
            if rng.random() < 0.12:
                yield (
                    hours(1, 10),
                    lambda at: act.pend(
                        ticket_id, "等待客户提供照片 waiting for photos from the customer", at=at
                    ),
                )
                if recent and rng.random() < 0.6:
                    return  # still waiting
                yield hours(12, 72), lambda at: act.resume(ticket_id, at=at)
            if rng.random() < 0.07:
                yield (
                    hours(1, 8),
                    lambda at: act.escalate(
                        ticket_id, "customer threatens to cancel 客户要求升级处理", at=at
                    ),
                )
            yield (
                hours(2, 30),
                lambda at: act.analyze(
                    ticket_id, root_cause=cause, driver=driver, touchpoint=event.touchpoint, at=at
                ),
            )
            yield (
                hours(2, 36),
                lambda at: act.resolve(
                    ticket_id,
                    code=rng.choice(
                        ["refund", "replacement", "explanation", "fix", "compensation"]
                    ),
                    root_cause=cause,
                    action="已处理并回访客户 handled and confirmed with customer",
                    remedy=rng.choice([None, "50元优惠券 coupon", "free shipping"]),
                    at=at,
                ),
            )
            outcome = rng.random()
            if outcome < 0.6:
                yield hours(6, 96), self._answer(ticket_id, event, good=True)
                return
            if outcome < 0.75:
                yield hours(6, 96), self._answer(ticket_id, event, good=False)
                continue  # reopened: analyse and fix again
            return  # no answer: the sweep closes it unverified after the verify window

    def _answer(self, ticket_id: int, event: FeedbackEventIn, *, good: bool):
        def answer(at: datetime) -> None:
            if self._stage(ticket_id) != Stage.VERIFY:
                raise WorkflowError("reopened by a new alert before the follow-up was answered")
            nps = self.rng.randint(7, 10) if good else self.rng.randint(0, 5)
            self._accept(
                FeedbackEventIn(
                    event_id=self._event_id(),
                    kind="followup",
                    occurred_at=at,
                    customer=event.customer,
                    channel=event.channel,
                    nps=nps,
                    comment=None if good else "还是没有解决。 Still not fixed.",
                    ticket_id=ticket_ref(ticket_id),
                ),
                at,
            )

        return answer

    # -- after the replay ----------------------------------------------------------------

    def _problems(self) -> None:
        """Problem tickets for the commonest drivers, with their cases linked."""
        for index, (title, driver, queue_id) in enumerate(PROBLEMS):
            opened = self.now - timedelta(days=25 - 8 * index)
            with self.db.write() as session:
                problem = self.system.open_ticket(
                    session,
                    kind=TicketKind.PROBLEM,
                    queue_id=queue_id,
                    priority="P2",
                    title=title,
                    at=opened,
                    tags=["problem"],
                )
                problem_id = problem.id or 0
                cases = session.exec(
                    select(Ticket.id)
                    .where(Ticket.driver == driver, Ticket.kind == "case")
                    .where(Ticket.opened_at >= opened - timedelta(days=10))
                    .order_by(Ticket.id)  # the same seed, the same cases, on either backend
                    .limit(12)
                ).all()
            supervisor = self.services[self.me if queue_id != "vip" else "li.na"]
            self._take(supervisor, problem_id, opened + timedelta(hours=2))
            for case_id in cases:
                supervisor.link(case_id, problem_id, at=opened + timedelta(hours=3))
            if index < 2:
                supervisor.analyze(
                    problem_id,
                    root_cause=ROOT_CAUSES[driver],
                    driver=driver,
                    at=opened + timedelta(days=2),
                )
            if index == 0:
                supervisor.close_problem(
                    problem_id,
                    "complaints about late delivery back to baseline for 7 days",
                    at=opened + timedelta(days=12),
                )

    def _schedule_problem(self, rule: str, at: datetime) -> None:
        """A supervisor takes up the problem ticket a metric alert opened."""
        with self.db.session() as session:
            problem_id = session.exec(
                select(Ticket.id).where(Ticket.rule == rule, Ticket.stage == Stage.NEW)
            ).first()
        if problem_id is not None:
            self._schedule(problem_id, at, self._problem_story(problem_id))

    def _problem_story(self, problem_id: int) -> Story:
        hours = lambda low, high: timedelta(hours=self.rng.uniform(low, high))  # noqa: E731
        lead = self.services[self.me]
        yield hours(1, 8), lambda at: self._take(lead, problem_id, at)
        yield (
            hours(24, 72),
            lambda at: lead.analyze(
                problem_id,
                root_cause="共性问题排查 cross-case investigation",
                driver="multiple",
                at=at,
            ),
        )
        yield (
            timedelta(days=self.rng.uniform(5, 12)),
            lambda at: lead.close_problem(
                problem_id, "the metric is back inside its band for a week", at=at
            ),
        )

    def _take(self, lead: TicketService, ticket_id: int, at: datetime) -> None:
        """A supervisor takes a ticket: claims it, or reassigns it to themself."""
        with self.db.session() as session:
            assignee = session.get_one(Ticket, ticket_id).assignee
        if assignee is None:
            lead.claim(ticket_id, at=at)
        elif assignee != lead.actor:
            lead.assign(ticket_id, lead.actor, at=at)

    def _stage(self, ticket_id: int) -> str:
        with self.db.session() as session:
            return session.get_one(Ticket, ticket_id).stage

    def _report(self) -> DemoReport:
        from sqlalchemy import func

        with self.db.session() as session:
            report = DemoReport(
                events=session.exec(select(func.count()).select_from(FeedbackEvent)).one(),
                tickets=session.exec(select(func.count()).select_from(Ticket)).one(),
            )
            for stage, count in session.exec(
                select(Ticket.stage, func.count()).group_by(Ticket.stage)
            ):
                report.by_stage[stage] = count
        return report


@dataclass
class _Step:
    ticket_id: int
    action: Callable[[datetime], None]
    story: Story

    def __lt__(self, other: _Step) -> bool:  # heap ties are broken by sequence first
        return False


def demo_summary(report: DemoReport) -> str:
    stages = ", ".join(f"{s.value} {report.by_stage.get(s.value, 0)}" for s in Stage)
    return f"{report.events} feedback events, {report.tickets} tickets ({stages})"


def build_demo_database(
    db: Database, settings: Settings, *, seed: int, size: str, now: datetime
) -> str:
    """Create the schema and fill it; returns a one-line summary."""
    db.upgrade()
    if size == "large":
        from cxdesk.workflow.demo_large import build_large

        return build_large(db, settings, seed=seed, now=now)
    return demo_summary(DemoBuilder(db, settings, seed=seed, now=now).build())
