"""The supervisor dashboard on `d`: SLA health per queue, breaches, load, metric alerts, trends."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Sparkline, Static

from cxdesk.i18n import N_, Translator
from cxdesk.screens.context import Desk, localize_bindings
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.format import PRIORITY_STYLE, plain, sla_cell
from cxdesk.workflow.dashboard import Dashboard, build_dashboard

REFRESH_S = 5.0
TRENDS = (("nps", N_("NPS")), ("csat", N_("CSAT %")), ("closed_loop", N_("Closed-loop %")))


class DashboardScreen(Screen[None]):
    CSS_PATH = "dashboard.tcss"
    BINDINGS = [
        Binding("escape,d", "app.pop_screen", N_("Back"), id="dashboard.back"),
        Binding("r", "reload", N_("Refresh"), id="dashboard.refresh"),
    ]

    class Loaded(Message):
        def __init__(self, dashboard: Dashboard) -> None:
            super().__init__()
            self.dashboard = dashboard

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk
        self.t = desk.t
        localize_bindings(self, self.t)

    def compose(self) -> ComposeResult:
        with Grid(id="dashboard"):
            yield Static(id="queues", classes="panel")
            yield Static(id="agents", classes="panel")
            yield Static(id="breaches", classes="panel")
            yield Static(id="problems", classes="panel")
        with Vertical(id="trends"):
            for key, _ in TRENDS:
                yield Static(id=f"{key}-label")
                yield Sparkline([], id=f"{key}-spark")
        yield DeskFooter()

    def on_mount(self) -> None:
        for panel, title in (
            ("queues", N_("SLA by queue")),
            ("agents", N_("Agent load")),
            ("breaches", N_("Breached")),
            ("problems", N_("Problems and metric alerts")),
        ):
            self.query_one(f"#{panel}").border_title = self.t(title)
        self.load()
        self.set_interval(REFRESH_S, self.load)

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="dashboard", exit_on_error=False)
    def load(self) -> None:
        with self.desk.db.session() as session:
            dashboard = build_dashboard(
                session, self.desk.viewer, self.desk.clock(), self.desk.settings.timezone
            )
        self.post_message(self.Loaded(dashboard))

    def on_dashboard_screen_loaded(self, message: DashboardScreen.Loaded) -> None:
        board = message.dashboard
        t = self.t
        queues = _table(
            t, N_("queue"), N_("open"), N_("ok"), N_("at risk"), N_("breached"), N_("no clock")
        )
        for q in board.queues:
            queues.add_row(
                plain(q.queue),
                str(q.open),
                str(q.ok),
                Text(str(q.at_risk), style="yellow" if q.at_risk else ""),
                Text(str(q.breached), style="bold red" if q.breached else ""),
                str(q.stopped),
            )
        self.query_one("#queues", Static).update(queues)
        agents = _table(t, N_("agent"), N_("open"), N_("load"), "")
        for a in board.agents:
            away = Text(t("away"), style="dim") if a.away else ""
            agents.add_row(plain(a.name), str(a.open), str(a.load), away)
        self.query_one("#agents", Static).update(agents)
        now = self.desk.clock()
        breaches = _table(t, N_("ticket"), N_("pri"), N_("overdue"), N_("assignee"), N_("title"))
        for row in board.breaches:
            breaches.add_row(
                plain(row.id),
                Text(row.priority, PRIORITY_STYLE[row.priority]),
                sla_cell(self.desk.reading(row, now), t),
                plain(row.assignee or "—"),
                plain(row.title),
            )
        self.query_one("#breaches", Static).update(breaches)
        problems = _table(t, N_("ticket"), N_("pri"), N_("stage"), N_("title"))
        for row in board.metric_alerts:
            problems.add_row(
                plain(row.id),
                Text(row.priority, PRIORITY_STYLE[row.priority]),
                plain(row.stage),
                plain(row.title),
            )
        self.query_one("#problems", Static).update(problems)
        for key, label in TRENDS:
            values = [getattr(day, key) for day in board.trend]
            known = [v for v in values if v is not None]
            latest = f"{known[-1]:.1f}" if known else "—"
            first, last = board.trend[0].day, board.trend[-1].day
            shown = t(
                "{label}  {first} → {last}  latest {latest}",
                label=t(label),
                first=first,
                last=last,
                latest=latest,
            )
            self.query_one(f"#{key}-label", Static).update(Text(shown, style="bold"))
            self.query_one(f"#{key}-spark", Sparkline).data = [v or 0.0 for v in values]


MIN_WIDTH = {"ticket": 9, "pri": 3, "overdue": 17, "stage": 7, "assignee": 8}


def _table(t: Translator, *columns: str) -> Table:
    """Narrow panels keep ids and clocks whole; titles give way. Columns named in English,
    headed in the desk's language."""
    table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    for name in columns:
        table.add_column(
            t(name),
            no_wrap=True,
            overflow="ellipsis",
            min_width=MIN_WIDTH.get(name),
            ratio=1 if name == "title" else None,
        )
    return table
