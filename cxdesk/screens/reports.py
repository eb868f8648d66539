"""The report screen on `R`: the loop's reports (`cxdesk report`) as tables with a chart,
over the last 7, 30 or 90 days or all time, for the queues one may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from cxdesk.i18n import N_
from cxdesk.screens.charts import BarChart
from cxdesk.screens.context import Desk
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.format import plain
from cxdesk.screens.live import LoadFailed
from cxdesk.screens.loads import Answer, Loads
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.workflow.insight.reports import CHARTED, REPORTS, read_report

PERIODS = (7, 30, 90, None)  # days back; None: all time
REPORT_TITLES = {
    "sla": N_("SLA"),
    "loop": N_("Closed loop"),
    "nps": N_("NPS / CSAT"),
    "drivers": N_("Drivers"),
    "backlog": N_("Backlog"),
}
CHART_ROWS = 15  # the chart draws the first rows only (the table has them all)


@dataclass(frozen=True)
class Scope:
    label: str  # "team care", "queue vip"; empty: every queue I may see
    queue: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Asked:
    """What one load of the screen reads: the answer is titled by it, not by what is asked
    now (an older answer may be on screen until the newer one comes)."""

    kind: str
    days: int | None
    scope: Scope


def report_scopes(desk: Desk) -> list[Scope]:
    """What `s` cycles through: my queues, each of their teams, each queue alone."""
    queues = sorted(q for q in desk.clocks.queues if desk.queues is None or q in desk.queues)
    teams = sorted({desk.clocks.queues[q].team_id for q in queues})
    return [
        Scope(""),
        *(Scope(f"team {team}", team=team) for team in teams),
        *(Scope(f"queue {queue}", queue=queue) for queue in queues),
    ]


class ReportScreen(Screen[None]):
    DEFAULT_CSS = """
    ReportScreen #report-title { height: 1; text-style: bold; }
    ReportScreen DataTable { height: 1fr; }
    ReportScreen BarChart { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,R", "app.pop_screen", N_("Back"), id="reports.back"),
        *(
            Binding(str(n), f"show('{kind}')", REPORT_TITLES[kind], id=f"reports.{kind}")
            for n, kind in enumerate(REPORTS, start=1)
        ),
        Binding("p", "period", N_("Period"), id="reports.period"),
        Binding("s", "scope", N_("Scope"), id="reports.scope"),
    ]

    class Loaded(Answer):
        def __init__(self, number: int, asked: Asked, rows: list[dict[str, Any]]) -> None:
            super().__init__(number)
            self.asked = asked
            self.rows = rows

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk
        self.t = desk.t
        self.kind = REPORTS[0]
        self.days: int | None = PERIODS[1]
        self.scopes = report_scopes(desk)
        self.scope: Scope = self.scopes[0]
        self.loads = Loads()
        localize_bindings(self, self.t)

    def compose(self) -> ComposeResult:
        yield Static(id="report-title")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield BarChart(id="report-chart")
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.load()

    def action_show(self, kind: str) -> None:
        self.kind = kind
        self.load()

    def action_period(self) -> None:
        self.days = PERIODS[(PERIODS.index(self.days) + 1) % len(PERIODS)]
        self.load()

    def action_scope(self) -> None:
        """Every queue I may see, then each of their teams, then each queue alone."""
        self.scope = self.scopes[(self.scopes.index(self.scope) + 1) % len(self.scopes)]
        self.load()

    def load(self) -> None:
        self._load(self.loads.start(), Asked(self.kind, self.days, self.scope))

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def _load(self, number: int, asked: Asked) -> None:
        desk = self.desk
        now = desk.clock()
        since = now - timedelta(days=asked.days) if asked.days else None
        try:
            rows = read_report(
                desk.db,
                desk.settings,
                desk.viewer,
                asked.kind,
                now,
                since=since,
                queue=asked.scope.queue,
                team=asked.scope.team,
            )
        except Exception as exc:  # shown to the user; another report still works
            failed = self.t("could not load the report: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(self.Loaded(number, asked, rows))

    def on_report_screen_loaded(self, message: ReportScreen.Loaded) -> None:
        if not self.loads.shows(message):
            return  # a newer answer is on screen
        t, asked = self.t, message.asked
        period = t("last {days} days", days=asked.days) if asked.days else t("all time")
        scope = asked.scope.label or t("my queues")
        title = (
            f"{t(REPORT_TITLES[asked.kind])} · {period} · {scope} · "
            f"1–5 {t('reports')} · p {t('period')} · s {t('scope')}"
        )
        self.query_one("#report-title", Static).update(plain(title))
        table = self.query_one(DataTable)
        table.clear(columns=True)
        columns = list(message.rows[0]) if message.rows else []
        for column in columns:
            table.add_column(column, key=column)
        for row in message.rows:
            table.add_row(*(plain("—" if row[c] is None else row[c]) for c in columns))
        label, figure = CHARTED[asked.kind]
        bars = [
            (str(row[label])[:24], float(row[figure]))
            for row in message.rows
            if row.get(figure) is not None
        ]
        self.query_one(BarChart).show(bars[:CHART_ROWS])
