"""Log lines: none unless asked for; on standard error with `--log-level` or `CXDESK_LOG`, in
the config's `[log] file` otherwise; escaped like everything cxdesk prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from cxdesk import logs
from cxdesk.config import LogConfig, parse_settings
from cxdesk.errors import ConfigError
from tests.conftest import Run

NOW = "2026-03-02T10:00:00+08:00"


@pytest.fixture
def db(run: Run, tmp_path: Path) -> tuple[str, ...]:
    """The global options of a new SQLite database, made by this test's user (its admin)."""
    options = ("--db", str(tmp_path / "cx.db"), "--now", NOW)
    assert run(*options, "init")[0] == 0
    return options


def _feed(tmp_path: Path) -> Path:
    """One good record and one that is not JSON, in a file whose name holds ESC."""
    good = {
        "event_id": "e-1",
        "kind": "complaint",
        "occurred_at": "2026-03-02T09:15:00+08:00",
        "customer": {"id": "C1"},
        "nps": 3,
    }
    feed = tmp_path / "feed\x1b[2J.jsonl"
    feed.write_text(json.dumps(good) + "\nnot json\n", encoding="utf-8")
    return feed


def test_nothing_is_logged_by_default(run: Run, db: tuple[str, ...], tmp_path: Path) -> None:
    assert run(*db, "sweep") == (0, run(*db, "sweep")[1], "")
    code, _, err = run(*db, "ingest", str(_feed(tmp_path)))
    assert code == 1 and err == ""
    assert run(*db, "ticket", "show", "CX-999")[2] == "cxdesk: error: no ticket CX-000999\n"


def test_log_level_writes_the_command_and_the_sweep_on_stderr(
    run: Run, db: tuple[str, ...]
) -> None:
    code, out, err = run(*db, "--log-level", "info", "sweep")
    assert code == 0 and "at_risk" in out
    assert " INFO cxdesk.cli.context: cxdesk sweep\n" in err
    assert " INFO cxdesk.workflow.sweep: sweep at 2026-03-02T10:00:00+08:00: 0 at risk, " in err
    assert ", surveys sent 0 (retrying 0, failed 0, suppressed 0), " in err  # no Python repr
    assert "DEBUG" not in err


def test_cxdesk_log_chooses_the_level_too(
    run: Run, db: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXDESK_LOG", "WARNING")
    assert run(*db, "sweep")[2] == ""  # nothing went wrong
    code, _, err = run(*db, "ticket", "show", "CX-999")
    assert code == 2
    assert err.splitlines()[0] == "cxdesk: error: no ticket CX-000999"
    assert " ERROR cxdesk.cli: exit 2: no ticket CX-000999" in err


def test_the_configs_file_gets_the_ingest_escaped(
    run: Run, db: tuple[str, ...], tmp_path: Path
) -> None:
    log = tmp_path / "cxdesk.log"
    config = tmp_path / "log.toml"
    config.write_text(f'[log]\nfile = "{log}"\nlevel = "info"\n', encoding="utf-8")
    code, _, err = run(*db, "--config", str(config), "ingest", str(_feed(tmp_path)))
    assert code == 1 and err == ""  # the summary on stdout, the log in its file only
    text = log.read_text(encoding="utf-8")
    assert "\x1b" not in text
    assert "INFO cxdesk.workflow.intake.ingest: ingested " in text
    assert "feed\\x1b[2J.jsonl: {'read': 2, 'accepted': 1, " in text
    assert "WARNING cxdesk.workflow.intake.ingest: " in text
    assert "feed\\x1b[2J.jsonl: 1 records quarantined" in text


def test_an_internal_error_is_one_line_on_stderr_and_a_traceback_in_the_log(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> list[str]:
        raise RuntimeError("boom \x1b[2J")

    monkeypatch.setattr("cxdesk.workflow.intake.rules.rule_errors", boom)
    log = tmp_path / "cxdesk.log"
    config = tmp_path / "log.toml"
    config.write_text(f'[log]\nfile = "{log}"\n', encoding="utf-8")
    code, _, err = run("--config", str(config), "rules", "check")
    assert code == 2
    assert err == (
        "cxdesk: error: internal error: RuntimeError: boom \\x1b[2J; "
        "run with CXDESK_DEBUG=1 for the traceback\n"
    )
    text = log.read_text(encoding="utf-8")
    assert "ERROR cxdesk.cli: internal error\nTraceback (most recent call last):\n" in text
    assert "RuntimeError: boom \\x1b[2J" in text and "\x1b" not in text
    assert "INFO" not in text  # the default level: warning


def test_a_log_file_that_cannot_be_opened_is_a_config_error(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "log.toml"
    config.write_text(f'[log]\nfile = "{tmp_path}/no/such/dir/x.log"\n', encoding="utf-8")
    code, _, err = run("--config", str(config), "rules", "check")
    assert code == 2
    assert err.startswith("cxdesk: error: log.file: cannot open ") and "x.log" in err


def test_the_log_section_is_strict() -> None:
    with pytest.raises(ConfigError, match=r"log\.path: Extra inputs are not permitted"):
        parse_settings('[log]\npath = "x.log"\n')
    with pytest.raises(ConfigError, match=r"log\.level: Input should be 'debug'"):
        parse_settings('[log]\nlevel = "loud"\n')
    assert parse_settings('[log]\nfile = "~/x.log"\n').log.file == Path.home() / "x.log"


def test_the_levels_are_the_configs() -> None:
    named, _ = get_args(LogConfig.model_fields["level"].annotation)  # Literal[…] | None
    assert get_args(named) == logs.LEVELS


def test_no_line_reaches_the_screen_while_the_tui_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "cxdesk.log"
    logs.start("info")
    logs.follow_config(LogConfig(file=log, level="info"))
    logs.off_screen()
    logs.LOGGER.getChild("screens").warning("kept off the screen")
    assert capsys.readouterr().err == ""
    assert "WARNING cxdesk.screens: kept off the screen" in log.read_text(encoding="utf-8")
    logs.start(None)  # as a new run leaves it: the file closed, nothing written anywhere
    logs.LOGGER.warning("nowhere")
    assert capsys.readouterr().err == "" and "nowhere" not in log.read_text(encoding="utf-8")


def test_a_named_pipe_as_the_log_file_is_refused_not_waited_on(run: Run, tmp_path: Path) -> None:
    pipe = tmp_path / "log.fifo"
    os.mkfifo(pipe)
    config = tmp_path / "log.toml"
    config.write_text(f'[log]\nfile = "{pipe}"\n', encoding="utf-8")
    code, _, err = run("--config", str(config), "rules", "check")
    assert code == 2 and "log.file:" in err and "named pipe" in err


def test_a_log_line_is_one_line_whatever_it_quotes(
    run: Run, db: tuple[str, ...], tmp_path: Path
) -> None:
    """A newline in a file name (or anything logged) cannot forge a line of its own."""
    feed = tmp_path / "a\n2026-01-01 00:00:00,000 cxdesk[1] ERROR cxdesk.audit: FORGED.jsonl"
    feed.write_text('{"event_id": "q1"}\n', encoding="utf-8")
    _, _, err = run(*db, "--log-level", "info", "ingest", str(feed))
    assert not any(line.startswith("2026-01-01") for line in err.splitlines()), err
    assert "\\n2026-01-01" in err


def test_an_early_usage_error_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cxdesk", "tikcet"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "cxdesk: error: No such command 'tikcet'. Did you mean 'ticket'? (see `cxdesk --help`)"
    ]
