"""The screens in English and 简体中文: the catalogue is complete, the language is chosen from
--lang or the locale, and a Chinese desk shows Chinese everywhere the screens have words."""

from __future__ import annotations

import ast
import getpass
import io
import string
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text
from sqlmodel import col, select
from textual.widgets import Label, Static

from cxdesk import errors
from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import CxdeskError, NotFound, WorkflowError
from cxdesk.i18n import ZH, Translator, detect_language, english, say
from cxdesk.models import Agent, AgentTeam, Queue
from cxdesk.screens.dashboard import DashboardScreen
from cxdesk.screens.forms import FormScreen, Picker
from cxdesk.screens.help import HelpScreen
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.queue_rows import COLUMNS, VIEW_TITLES
from cxdesk.screens.ticket import TicketScreen
from cxdesk.screens.ticket_table import StatusLine, TicketTable
from cxdesk.workflow.basics.refs import parse_ref
from cxdesk.workflow.loop.desk_commands import Claim
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.loop.stages import next_stage
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle

PACKAGE = Path(__file__).resolve().parents[2] / "cxdesk"
ME = getpass.getuser()


def marked_texts() -> dict[str, str]:
    """Every literal the screens pass to `t(...)` or mark with `N_(...)`, and every system
    text the workflow and the server write with `say(...)`, with its file."""
    found: dict[str, str] = {}
    screens = [*sorted((PACKAGE / "screens").glob("*.py")), PACKAGE / "app.py"]
    server = sorted((PACKAGE / "web").glob("*.py"))
    for path in [*screens, *sorted((PACKAGE / "workflow").rglob("*.py")), *server]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            first, func = node.args[0], node.func
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if name in ("t", "N_", "say") and isinstance(first, ast.Constant):
                found.setdefault(first.value, path.name)
    return found


def binding_texts() -> set[str]:
    """The key descriptions the footer, the help and the palette show, and the queue's column
    headers and views (plain English in the code, translated where shown)."""
    texts = {*COLUMNS, *VIEW_TITLES.values()}
    for owner in (CxdeskApp, QueueScreen, TicketScreen, DashboardScreen, HelpScreen, FormScreen):
        for binding in owner.BINDINGS:
            texts.add(binding.description)  # type: ignore[union-attr]
            if binding.group:  # type: ignore[union-attr]
                texts.add(binding.group.description)  # type: ignore[union-attr]
    for binding in Picker.BINDINGS:
        texts.add(binding.description)  # type: ignore[union-attr]
    return texts - {""}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_of_the_screens_has_a_chinese_translation() -> None:
    marked = marked_texts()
    assert len(marked) > 80  # the extraction found the screens' texts
    missing = sorted(set(marked) - set(ZH)) + sorted(binding_texts() - set(ZH))
    assert not missing, f"no 简体中文 for: {missing}"


def test_translations_keep_their_placeholders_and_are_chinese() -> None:
    for key, value in ZH.items():
        assert fields(key) == fields(value), key
        assert value.strip(), key
    translated = [v for k, v in ZH.items() if k != v]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in v) for v in translated)


def test_stored_system_text_is_shown_in_the_desks_language() -> None:
    zh, en = Translator("zh"), Translator("en")
    said = say("claimed by {actor}", actor="li.na")
    assert str(said) == "claimed by li.na"  # what is stored, and what English desks show
    assert zh.said(said.stored()) == "由 li.na 认领"
    assert en.said(said.stored()) is None  # the stored English
    assert zh.said(None) is None  # agent and customer text: as written
    # Read back from the database, so only the catalogue's templates are used as formats.
    assert zh.said(["{x.__class__}", {"x": 1}]) is None
    assert zh.said(["claimed by {actor}", {}]) is None
    assert zh.said("not a pair") is None


def test_the_translator() -> None:
    zh, en = Translator("zh"), Translator("en")
    assert zh("Claim") == "认领" and en("Claim") == "Claim"
    assert zh("{open} open · load {load}", open=2, load=5) == "未结 2 · 负载 5"
    assert zh("not in the catalogue") == "not in the catalogue"
    assert zh("filter: {words}", words="{x} [b]") == "筛选：{x} [b]"  # values stay data
    assert english("认领") == "Claim"
    with pytest.raises(ValueError, match="unknown language"):
        Translator("fr")


def test_an_error_is_english_text_and_shown_in_the_desks_language() -> None:
    zh, en = Translator("zh"), Translator("en")
    with pytest.raises(WorkflowError) as refused:
        next_stage("resume", "new", "CX-000007")
    english_text = "cannot resume CX-000007: it is new; resume is allowed in: pending"
    assert str(refused.value) == english_text  # the CLI, logs and JSON: as before
    assert en.error(refused.value) == english_text
    # The catalogue's words; the values (a command, a ref, stages) are data, as stored.
    assert (
        zh.error(refused.value)
        == "无法对 CX-000007 执行 resume：它处于 new；resume 仅适用于：pending"
    )
    with pytest.raises(NotFound) as not_a_ref:
        parse_ref("{x} [b]")
    assert str(not_a_ref.value) == "not a ticket id: '{x} [b]' (expected something like CX-000123)"
    assert zh.error(not_a_ref.value) == "不是工单编号：'{x} [b]'（应形如 CX-000123）"


def test_an_error_the_catalogue_does_not_know_is_shown_in_english() -> None:
    zh = Translator("zh")
    assert zh.error(WorkflowError("the queue is on fire")) == "the queue is on fire"
    unknown = WorkflowError(say("{ref} is on fire", ref="CX-000001"))
    assert str(unknown) == "CX-000001 is on fire"
    assert zh.error(unknown) == "CX-000001 is on fire"
    assert zh.error(RuntimeError("disk full")) == "disk full"  # not one of ours: as raised
    assert zh.error(CxdeskError()) == ""


ERRORS = {  # the errors meant for the person at the desk (a TypeError is for developers)
    name
    for name, kind in vars(errors).items()
    if isinstance(kind, type) and issubclass(kind, errors.CxdeskError)
}
WINGS_THE_DESK_REACHES = [
    *sorted((PACKAGE / "workflow" / "loop").glob("*.py")),
    *sorted((PACKAGE / "workflow" / "reads").glob("*.py")),
    PACKAGE / "workflow" / "access" / "permissions.py",
    PACKAGE / "workflow" / "basics" / "refs.py",
]


def test_the_refusals_a_desk_can_meet_go_through_the_catalogue() -> None:
    """An error raised with words of its own as a plain or f-string would stay English on a
    Chinese desk: it is raised with `say(...)`, which the catalogue test then covers."""
    plain = []
    for path in WINGS_THE_DESK_REACHES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            raised = node.exc if isinstance(node, ast.Raise) else None
            if isinstance(raised, ast.Call) and getattr(raised.func, "id", "") in ERRORS:
                for arg in raised.args[:1]:
                    words = [arg] if isinstance(arg, ast.Constant) else []
                    if isinstance(arg, ast.JoinedStr):
                        words = [v for v in arg.values if isinstance(v, ast.Constant)]
                    if any(any(c.isalpha() for c in str(w.value)) for w in words):
                        plain.append(f"{path.name}:{node.lineno}")
    assert not plain, plain


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_TW.UTF-8"}, "zh"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL overrides everything
        ({"LC_ALL": "zh_SG.UTF-8", "LANG": "en_GB.UTF-8"}, "zh"),
        ({"LANG": ""}, "en"),
    ],
)
def test_the_language_follows_the_locale(environ: dict[str, str], lang: str) -> None:
    assert detect_language(environ) == lang


@pytest.mark.parametrize(
    ("args", "environ", "lang"),
    [
        (["--lang", "zh"], {"LANG": "en_US.UTF-8"}, "zh"),
        (["--lang", "en"], {"LANG": "zh_CN.UTF-8"}, "en"),
        ([], {"LANG": "zh_CN.UTF-8"}, "zh"),
        ([], {"LANG": "C.UTF-8"}, "en"),
    ],
)
def test_cxdesk_lang_opens_the_tui_in_that_language(
    demo_copy: Path,
    run,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    environ: dict[str, str],
    lang: str,
) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    opened: list[str] = []
    monkeypatch.setattr(CxdeskApp, "run", lambda self: opened.append(self.desk.lang))
    code, _, err = run("--db", str(demo_copy), *args)
    assert code in (0, None), err
    assert opened == [lang]


def test_an_unknown_language_is_a_usage_error(demo_copy: Path, run) -> None:
    code, _, err = run("--db", str(demo_copy), "--lang", "fr")
    assert code == 2 and "--lang" in err


def text_of(renderable: object, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def test_a_chinese_desk_speaks_chinese(demo_copy: Path) -> None:
    app = CxdeskApp(Database.open(str(demo_copy)), Settings(), ME, lambda: DEMO_NOW, lang="zh")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#tickets", TicketTable)
        headers = [column.label for column in table.columns]
        assert headers == [
            "编号",
            "优先级",
            "阶段",
            "队列",
            "处理人",
            "客户",
            "SLA",
            "时长",
            "标题",
        ]
        status = app.screen.query_one("#status", StatusLine).text
        assert "全部" in status and "共" in status
        await pilot.press("4")  # breached
        await settle(app, pilot)
        assert str(table.get_row_at(0)[6]).startswith("!超时 ")
        # CJK is measured in cells: every row of a column starts at the same column of the
        # screen, Chinese names and titles included.
        starts = set()
        for y in range(1, min(table.row_count, 20) + 1):
            line = table.render_line(y).text
            assert cell_len(line) == table.size.width
            sla = str(table.get_row_at(y - 1)[6])
            starts.add(cell_len(line[: line.index(sla)]))
        assert len(starts) == 1, starts

        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        descriptions = [description for _key, description in app.screen.keys]
        untranslated = [d for d in descriptions if d not in ZH.values()]
        assert not untranslated, untranslated  # Textual's own keys too
        assert dict(app.screen.keys)["1"] == "我的"
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("2", "enter")  # an unassigned ticket
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TicketScreen)
        header = text_of(screen.query_one("#ticket-header", Static).content)
        assert "处理人 —" in header and "创建于" in header
        assert screen.query_one("#timeline-box").border_title == "时间线"
        timeline = text_of(screen.query_one("#timeline", Static).content)
        assert "开启，优先级" in timeline  # the system's own entries, in Chinese
        assert "opened in" not in timeline
        await pilot.press("e")  # escalate: a form with a reason
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen)
        assert [str(label.content) for label in form.query(Label)] == ["原因"]
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = form.query_one("#form-error", Static).content
        assert isinstance(error, Text) and error.plain == "必填：原因"
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        queues = text_of(app.screen.query_one("#queues", Static).content)
        assert "未结" in queues and "超时" in queues
        assert app.screen.query_one("#queues").border_title == "各队列 SLA"


async def test_two_desks_in_two_languages_do_not_share_their_words(demo_copy: Path) -> None:
    db = Database.open(str(demo_copy))
    zh = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW, lang="zh")
    en = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW, lang="en")
    async with zh.run_test(size=(100, 30)) as pilot:
        await settle(zh, pilot)
        assert zh.screen.active_bindings["d"].binding.description == "看板"
    async with en.run_test(size=(100, 30)) as pilot:
        await settle(en, pilot)
        assert en.screen.active_bindings["d"].binding.description == "Dashboard"


async def test_a_chinese_desk_shows_a_refusal_in_chinese(
    demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Deaf:  # no change feed and no poll: the ticket on screen stays as it was read
        def __init__(self, *args, **kw) -> None:
            pass

        def start(self) -> None:
            pass

        def stop(self, join: float = 0) -> None:
            pass

    monkeypatch.setattr("cxdesk.app.ChangeWatcher", Deaf)
    monkeypatch.setattr("cxdesk.app.LIVE_POLL_S", 3600.0)
    db = Database.open(str(demo_copy))
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW, lang="zh")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "enter")  # an unassigned ticket
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TicketScreen) and screen.detail is not None
        row = screen.detail.row
        with db.session() as session:
            other = session.exec(
                select(Agent.login)
                .join(AgentTeam, col(AgentTeam.agent_login) == Agent.login)
                .join(Queue, col(Queue.team_id) == AgentTeam.team_id)
                .where(Queue.id == row.queue, col(Agent.active), Agent.login != ME)
                .order_by(Agent.login)
            ).first()
        assert other is not None
        TicketService(db, Settings(), other).handle(Claim(row.number, at=DEMO_NOW))
        await pilot.press("c")  # claims the ticket as read: someone took it meanwhile
        await settle(app, pilot)
        shown = [str(n.message) for n in app._notifications]
        refused = [text for text in shown if text.startswith(f"{row.id} 已于 ")]
        assert refused and refused[0].endswith(" 修改 —— 请重新加载"), shown
        assert not any("was changed by" in text for text in shown), shown
