"""The supervisor dashboard on `d`: SLA health per queue, breaches, load, metric alerts, trends."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from cxdesk.i18n import N_, Translator
from cxdesk.screens.charts import Line, LineChart, Scale
from cxdesk.screens.context import Desk
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.format import PRIORITY_STYLE, plain, sla_cell
from cxdesk.screens.live import LoadFailed
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.workflow.insight.dashboard import Dashboard, read_dashboard

REFRESH_S = 5.0
PERCENT = Scale(0, 100, min_span=10)
TRENDS = (  # figure, title, its scale, the theme colour of its line
    ("nps", N_("NPS"), Scale(-100, 100, min_span=20), "text-primary"),
    ("csat", N_("CSAT %"), PERCENT, "text-success"),
    ("closed_loop", N_("Closed-loop %"), PERCENT, "text-secondary"),
)


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
        self.board: Dashboard | None = None
        self.t = desk.t
        localize_bindings(self, self.t)

    def compose(self) -> ComposeResult:
        with Grid(id="dashboard"):
            yield Static(id="queues", classes="panel")
            yield Static(id="agents", classes="panel")
            yield Static(id="breaches", classes="panel")
            yield Static(id="problems", classes="panel")
        with Horizontal(id="trends"):
            for key, _, scale, _ in TRENDS:  # drawn once the figures are read
                with Vertical(id=f"{key}-trend", classes="trend"):
                    yield LineChart(scale, empty=self.t("no figures yet"), id=f"{key}-chart")
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
        try:
            dashboard = read_dashboard(
                self.desk.db, self.desk.viewer, self.desk.clock(), self.desk.settings.timezone
            )
        except Exception as exc:  # shown to the user; the next refresh tries again
            failed = self.t("could not load the dashboard: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(self.Loaded(dashboard))

    def on_dashboard_screen_loaded(self, message: DashboardScreen.Loaded) -> None:
        self.board = message.dashboard
        self._show_panels()
        self._show_trends()

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_BELOW, "-short")
        if self.board is not None:
            self._show_panels()

    def _show_panels(self) -> None:
        """Below 100 columns the panels drop what can be worked out or found elsewhere (the ok
        and no-clock counts, a breach's assignee), so that what stays fits whole."""
        board, t = self.board, self.t
        assert board is not None
        narrow = self.size.width < NARROW_BELOW
        queues = Panel(
            t,
            narrow,
            ("queue", "open", "ok", "at risk", "breached", "no clock"),
            wide_only=("ok", "no clock"),
        )
        for q in board.queues:
            queues.add(
                plain(q.queue),
                str(q.open),
                str(q.ok),
                Text(str(q.at_risk), style="yellow" if q.at_risk else ""),
                Text(str(q.breached), style="bold red" if q.breached else ""),
                str(q.stopped),
            )
        self.query_one("#queues", Static).update(queues.table)
        agents = Panel(t, narrow, ("agent", "open", "load", ""))
        for a in board.agents:
            away = Text(t("away"), style="dim") if a.away else ""
            name = plain(a.name)
            if a.login == self.desk.actor:
                name.append(f" ({t('you')})")
            agents.add(name, str(a.open), str(a.load), away)
        self.query_one("#agents", Static).update(agents.table)
        now = self.desk.clock()
        breaches = Panel(
            t, narrow, ("ticket", "pri", "overdue", "assignee", "title"), wide_only=("assignee",)
        )
        for row in board.breaches:
            breaches.add(
                plain(row.id),
                plain(row.priority, PRIORITY_STYLE.get(row.priority, "")),
                sla_cell(self.desk.reading(row, now), t),
                plain(row.assignee or "—"),
                plain(row.title),
            )
        self.query_one("#breaches", Static).update(breaches.table)
        problems = Panel(t, narrow, ("ticket", "pri", "stage", "title"))
        for row in board.metric_alerts:
            problems.add(
                plain(row.id),
                plain(row.priority, PRIORITY_STYLE.get(row.priority, "")),
                plain(row.stage),
                plain(row.title),
            )
        self.query_one("#problems", Static).update(problems.table)

    def _show_trends(self) -> None:
        """Each figure by day, its latest value in the title; a day without answers is a gap
        the line steps over, not a zero."""
        board, t = self.board, self.t
        assert board is not None
        days = [day.day for day in board.trend]
        for key, label, _, color in TRENDS:
            points = tuple(
                (float(i), value)
                for i, day in enumerate(board.trend)
                if (value := getattr(day, key)) is not None
            )
            latest = f"{points[-1][1]:.1f}" if points else "—"
            box = self.query_one(f"#{key}-trend")
            box.border_title = t("{label}  latest {latest}", label=t(label), latest=latest)
            chart = self.query_one(f"#{key}-chart", LineChart)
            chart.show([Line(points, color)], lambda x: days[round(x)], (0, len(days) - 1))


NARROW_BELOW = 100  # screen columns
SHORT_BELOW = 30  # screen rows: shorter trend charts
WIDE_ONLY = True
MIN_WIDTH = {"ticket": 9, "pri": 3, "overdue": 17, "stage": 7, "assignee": 8}
# Column names in English (each marked for the catalogue), headed in the desk's language.
HEADERS = {
    "queue": N_("queue"),
    "open": N_("open"),
    "ok": N_("ok"),
    "at risk": N_("at risk"),
    "breached": N_("breached"),
    "no clock": N_("no clock"),
    "agent": N_("agent"),
    "load": N_("load"),
    "ticket": N_("ticket"),
    "pri": N_("pri"),
    "overdue": N_("overdue"),
    "assignee": N_("assignee"),
    "title": N_("title"),
    "stage": N_("stage"),
}
GROWS = {"queue", "agent", "title"}  # these give way; the others keep their header whole


class Panel:
    """One dashboard panel's table: ids, counts and clocks keep their header whole, names and
    titles give way; an empty panel says so."""

    def __init__(
        self,
        t: Translator,
        narrow: bool,
        columns: tuple[str, ...],
        wide_only: tuple[str, ...] = (),
    ) -> None:
        self.t = t
        self.keep = [i for i, name in enumerate(columns) if not (narrow and name in wide_only)]
        self.columns = [columns[i] for i in self.keep]
        self.rows: list[list[RenderableType]] = []

    def add(self, *cells: RenderableType) -> None:
        self.rows.append([cells[i] for i in self.keep])

    @property
    def table(self) -> Table:
        table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
        for name in self.columns:
            header = self.t(HEADERS[name]) if name else ""
            grows = name in GROWS
            table.add_column(
                header,
                no_wrap=True,
                overflow="ellipsis",
                min_width=None if grows else max(MIN_WIDTH.get(name, 0), cell_len(header)),
                ratio=1 if grows else None,
            )
        for row in self.rows:
            table.add_row(*row)
        if not self.rows:
            table.add_row(Text(self.t("none"), style="dim"))
        return table
