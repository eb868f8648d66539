"""The CLI imports a command group's module only when that group is named: `cxdesk --help`
and `cxdesk --version` start without the TUI, the ingest pipeline or the database layer, and
the help still lists every command with its own help. The TUI's first frame waits for none
of what its later actions need. (A future eager import fails here, not in a benchmark.)"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from cxdesk.cli import COMMANDS, cli

# What `cxdesk --help` has no use for (a module, or a package and all below it).
NOT_FOR_HELP = (
    "textual",
    "cxdesk.app",
    "cxdesk.screens",
    "cxdesk.web",
    "starlette",
    "uvicorn",
    "cxdesk.workflow",
    "cxdesk.db",
    "cxdesk.config",
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
)


def _modules_after(*args: str) -> list[str]:
    """The modules loaded by running `cxdesk ARGS` in a fresh interpreter."""
    code = (
        "import json, sys\n"
        "from cxdesk.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert any(s in result.stdout for s in ("Commands:", "Usage:", "version")), result.stderr
    return json.loads(result.stderr.splitlines()[-1])


def _under(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)]


def test_help_imports_no_command_group() -> None:
    modules = _modules_after("--help")
    assert _under(modules, NOT_FOR_HELP) == []
    assert [m for m in modules if m.startswith("cxdesk.cli.")] == [
        "cxdesk.cli.context",
        "cxdesk.cli.lazy",
    ]


def test_version_imports_no_command_group_nor_the_package_metadata() -> None:
    """The version is cxdesk's own constant: no scan of every installed distribution."""
    modules = _modules_after("--version")
    assert _under(modules, (*NOT_FOR_HELP, "importlib.metadata")) == []


def test_the_desk_imports_what_its_actions_need_on_first_use() -> None:
    """The queue is the first frame: the bulk action's forms and the service they act
    through, the dashboard's figures, reports, charts and every holiday calendar load when
    a key asks for them."""
    later = (
        "cxdesk.screens.forms",
        "cxdesk.screens.command_forms",
        "cxdesk.screens.dashboard",
        "cxdesk.screens.reports",
        "cxdesk.screens.ticket",
        "cxdesk.workflow.insight",
        "cxdesk.workflow.loop.service",
        "textual_plotext",
        "plotext",
        "holidays",
        "alembic",
    )
    code = "import json, sys, cxdesk.app, cxdesk.cli.tui; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert _under(json.loads(result.stdout), later) == []


def test_a_commands_help_imports_no_database_layer() -> None:
    """`cxdesk` runs before the command it names reads `--help`, and asks who runs the
    process (under sudo or not): that question imports nothing of the database."""
    modules = _modules_after("ticket", "list", "--help")
    assert "cxdesk.cli.ticket" in modules
    database = ("sqlalchemy", "sqlmodel", "cxdesk.db", "cxdesk.models", "cxdesk.config")
    assert _under(modules, database) == []


def test_a_group_imports_its_own_module_only() -> None:
    modules = _modules_after("user", "--help")
    assert "cxdesk.cli.user" in modules
    groups = {c.target.split(":")[0] for c in COMMANDS.values()} - {"cxdesk.cli.user"}
    assert _under(modules, (*groups, "textual", "cxdesk.app", "cxdesk.workflow.intake")) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    """`cxdesk --help` shows the help kept in `COMMANDS`, shortened as click shortens the
    command's own: the two must not drift apart."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    listed = click.Command(name, help=COMMANDS[name].help)
    for limit in (30, 45, 70, 200):
        assert listed.get_short_help_str(limit) == command.get_short_help_str(limit)
