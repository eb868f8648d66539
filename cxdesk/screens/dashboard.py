"""The supervisor dashboard on `d`: SLA health per queue, breaches, load, metric alerts, trends;
and, on `o`, a problem opened for a driver of the open cases, its cases linked."""

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

from cxdesk.errors import CxdeskError
from cxdesk.i18n import N_, Translator
from cxdesk.screens.charts import Line, LineChart, Scale
from cxdesk.screens.context import Desk
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.format import PRIORITY_STYLE, plain, sla_cell
from cxdesk.screens.forms import Field, FormScreen
from cxdesk.screens.live import LoadFailed
from cxdesk.screens.loads import Answer, Loads
from cxdesk.screens.localized_bindings import localize_bindings
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.insight.dashboard import Dashboard, read_dashboard
from cxdesk.workflow.insight.problem_checks import read_open_drivers
from cxdesk.workflow.loop.desk_commands import OpenProblem
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.reads.detail import read_ticket_detail

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
        Binding("o", "open_problem", N_("Open a problem"), id="dashboard.open_problem"),
    ]

    class Loaded(Answer):
        def __init__(self, number: int, dashboard: Dashboard) -> None:
            super().__init__(number)
            self.dashboard = dashboard

    class DriversReady(Message):
        """The drivers of the open cases, read off the event loop, to pick one from."""

        def __init__(self, drivers: list[tuple[str, int]]) -> None:
            super().__init__()
            self.drivers = drivers

    class Opened(Message):
        def __init__(self, text: str, ok: bool) -> None:
            super().__init__()
            self.text = text
            self.ok = ok

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk
        self.loads = Loads()
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

    def load(self) -> None:
        self._load(self.loads.start())

    @work(thread=True, exclusive=True, group="dashboard", exit_on_error=False)
    def _load(self, number: int) -> None:
        try:
            dashboard = read_dashboard(
                self.desk.db, self.desk.viewer, self.desk.clock(), self.desk.settings.timezone
            )
        except Exception as exc:  # shown to the user; the next refresh tries again
            failed = self.t("could not load the dashboard: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(self.Loaded(number, dashboard))

    # -- a problem for a driver: pick it (the form's save is the confirmation), then open ---

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Opening a problem is for supervisors and admins: shown disabled to others."""
        if action == "open_problem" and not self.desk.viewer.may("open_problem"):
            return None
        return True

    def action_open_problem(self) -> None:
        if self.desk.viewer.may("open_problem"):
            self.read_drivers()

    @work(thread=True, exclusive=True, group="dashboard-drivers", exit_on_error=False)
    def read_drivers(self) -> None:
        try:
            drivers = read_open_drivers(self.desk.db, self.desk.viewer)
        except Exception as exc:  # shown to the user, the screen stays usable
            failed = self.t("could not open the form: {error}", error=self.t.error(exc))
            self.post_message(LoadFailed(failed))
            return
        self.post_message(self.DriversReady(drivers))

    def on_dashboard_screen_drivers_ready(self, message: DashboardScreen.DriversReady) -> None:
        if self.app.screen is not self:  # the supervisor moved on meanwhile
            return
        if not message.drivers:
            self.notify(self.t("no open case has a driver yet"), markup=False)
            return
        field = Field(
            "driver",
            N_("Driver"),
            kind="pick",
            choices=[(driver, driver) for driver, _ in message.drivers],
            hints={d: self.t("{count} open cases", count=n) for d, n in message.drivers},
            placeholder=N_("type to narrow the drivers"),
        )
        title = self.t("Open a problem for a driver; its open cases are linked")

        def chosen(values: dict[str, str] | None) -> None:
            if values is not None and values["driver"]:
                self.open_problem(values["driver"])

        self.app.push_screen(FormScreen(title, [field], self.t), chosen)

    @work(thread=True, group="dashboard-open-problem", exit_on_error=False)
    def open_problem(self, driver: str) -> None:
        service = TicketService(self.desk.db, self.desk.settings, self.desk.actor)
        try:
            problem = service.handle(OpenProblem("driver", driver, at=self.desk.clock()))
            assert problem.id is not None
            linked = read_ticket_detail(self.desk.db, problem.id, self.desk.viewer).links
        except CxdeskError as exc:
            self.post_message(self.Opened(self.t.error(exc), ok=False))
            return
        opened = self.t(
            "{ticket} opened for driver {driver}: {count} cases linked",
            ticket=ticket_ref(problem.id),
            driver=driver,
            count=len(linked),
        )
        self.post_message(self.Opened(opened, ok=True))

    def on_dashboard_screen_opened(self, message: DashboardScreen.Opened) -> None:
        self.notify(message.text, severity="information" if message.ok else "error", markup=False)
        self.load()

    def on_dashboard_screen_loaded(self, message: DashboardScreen.Loaded) -> None:
        if not self.loads.shows(message):
            return
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
