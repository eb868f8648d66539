"""The SLA column of the command line: the desk's markers, the time left and when it is due."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.conftest import DEMO_NOW, Run

MARK = {"breached": "!BREACHED ", "at_risk": "~", "ok": ""}
DUE = re.compile(r" · (?:[A-Z][a-z]{2} |\d\d-\d\d )?(\d\d:\d\d)$")


def test_ticket_list_shows_the_marker_and_the_local_due_time(demo_copy: str, run: Run) -> None:
    db = ("--db", demo_copy, "--now", DEMO_NOW.isoformat())
    _, out, _ = run(*db, "ticket", "list", "--format", "json", "--limit", "300")
    listed = {t["id"]: t for t in json.loads(out)}
    _, out, _ = run(*db, "ticket", "list", "--format", "csv", "--limit", "300")
    shown = {row["id"]: row["sla"] for row in csv.DictReader(io.StringIO(out))}
    assert shown.keys() == listed.keys()
    states = set()
    for ref, ticket in listed.items():
        if ticket["sla_state"] is None:
            assert shown[ref] == "" and ticket["sla"] == ""
            continue
        states.add(ticket["sla_state"])
        left = ticket["sla"].removeprefix("BREACHED ")
        assert shown[ref].startswith(f"{MARK[ticket['sla_state']]}{left} · ")
        match = DUE.search(shown[ref])
        assert match is not None, shown[ref]
        due = datetime.fromisoformat(ticket["sla_due"]).astimezone(ZoneInfo("Asia/Shanghai"))
        assert match.group(1) == due.strftime("%H:%M")
        assert not ticket["sla"].startswith(("!", "~"))  # JSON keeps the state apart
    assert {"breached", "ok"} <= states
    _, out, _ = run(*db, "ticket", "list", "--limit", "300")
    assert "!BREACHED " in out and " · " in out


def test_ticket_show_tells_the_clock_as_the_list_does(demo_copy: str, run: Run) -> None:
    db = ("--db", demo_copy, "--now", DEMO_NOW.isoformat())
    _, out, _ = run(*db, "ticket", "list", "--view", "breached", "--format", "csv", "--limit", "1")
    (listed,) = csv.DictReader(io.StringIO(out))
    assert listed["sla"].startswith("!BREACHED ")
    _, out, _ = run(*db, "ticket", "show", listed["id"])
    assert f"sla {listed['sla']}  " in out
    _, out, _ = run(*db, "ticket", "show", listed["id"], "--format", "json")
    shown = json.loads(out)
    assert shown["sla_state"] == "breached" and shown["sla"].startswith("BREACHED ")
