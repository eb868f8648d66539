"""cxdesk against django-helpdesk: creating tickets and listing the open queue, on SQLite.

    python benchmarks/compare.py [--tickets 5000] [--rounds 20] [--repeats 3]

In a throwaway venv under a temporary directory, `pip install django-helpdesk`, then run
benchmarks/helpdesk_side.py with that venv's Python (a minimal Django project on SQLite).
cxdesk does the same work through its service layer and queries, in this process:

- create N tickets one transaction each, then N more in one transaction: django-helpdesk's
  `Ticket` and its opening `FollowUp` through the ORM; cxdesk's `OpenTicket` command through
  `TicketService.handle` (the ticket with its SLA clocks, its opening timeline entry and its
  audit row);
- list the open queue's first page R times: open and unassigned tickets of one queue, newest
  first, 100 rows (`list_tickets` in the unassigned view sorted by age; the ORM query with
  the queue joined).

Both databases run with WAL and synchronous=NORMAL. The two sides take turns, `--repeats`
times each, and each figure is the median of its runs. Prints JSON; if django-helpdesk does
not install or run, its part says why and the cxdesk figures are still given.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import TicketKind
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService
from cxdesk.workflow.ops.schema import upgrade_database
from cxdesk.workflow.reads.queries import Sort, TicketFilter, View, list_tickets

HELPDESK_SIDE = Path(__file__).with_name("helpdesk_side.py")
QUEUE = "aftersales"


def cxdesk_side(workdir: Path, tickets: int, rounds: int) -> dict[str, Any]:
    settings = Settings()
    db = Database.open(str(workdir / "cxdesk.db"), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        sync_org(session, settings)
    service = TicketService(db, settings, SYSTEM_ACTOR)
    start = datetime.now(UTC)

    def create(session: Any, n: int) -> None:
        service.handle(
            OpenTicket(
                kind=TicketKind.CASE,
                queue_id=QUEUE,
                priority="P2",
                title=f"Customer {n}: the parcel came three days late",
                at=start + timedelta(milliseconds=n),
            ),
            session,
        )

    started = time.perf_counter()
    for n in range(tickets):
        with db.write() as session:
            create(session, n)
    each = time.perf_counter() - started
    started = time.perf_counter()
    with db.write() as session:
        for n in range(tickets, 2 * tickets):
            create(session, n)
    batch = time.perf_counter() - started

    view = TicketFilter(view=View.UNASSIGNED, queue=QUEUE, sort=Sort.AGE)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        with db.session() as session:
            rows = list_tickets(session, view, limit=100)
        samples.append(time.perf_counter() - started)
    assert len(rows) == 100 and rows[0].number == 2 * tickets, "not the newest open tickets"
    db.dispose()
    return {
        "create_each_per_s": round(tickets / each),
        "create_batch_per_s": round(tickets / batch),
        "list_first_page_median_ms": round(statistics.median(samples) * 1000, 2),
    }


def install_helpdesk(workdir: Path) -> Path | str:
    """A venv under `workdir` with django-helpdesk: its Python, or why it failed."""
    env_dir = workdir / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "django-helpdesk"],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        timeout=1800,
    )
    if install.returncode != 0:
        return f"pip install django-helpdesk failed: {_tail(install.stderr)}"
    return python


def helpdesk_side(python: Path, workdir: Path, tickets: int, rounds: int) -> dict[str, Any]:
    """Run benchmarks/helpdesk_side.py with the venv's Python; its JSON, or an error."""
    run = subprocess.run(
        [python, HELPDESK_SIDE, workdir, "--tickets", str(tickets), "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if run.returncode != 0:
        return {"error": f"the django-helpdesk project failed: {_tail(run.stderr)}"}
    return json.loads(run.stdout)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


FIGURES = ("create_each_per_s", "create_batch_per_s", "list_first_page_median_ms")


def run(tickets: int = 5_000, rounds: int = 20, repeats: int = 3) -> dict[str, Any]:
    """`repeats` runs of each side, taking turns (the machine's load falls on both alike);
    each figure is the median of its runs."""
    result: dict[str, Any] = {"tickets": tickets, "rounds": rounds, "repeats": repeats}
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cxdesk-compare-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        try:
            python: Path | str = install_helpdesk(workdir)
        except (OSError, subprocess.SubprocessError) as exc:
            python = f"{type(exc).__name__}: {exc}"
        result["install_s"] = round(time.perf_counter() - started, 1)
        for n in range(repeats):
            (workdir / f"cxdesk{n}").mkdir()
            ours.append(cxdesk_side(workdir / f"cxdesk{n}", tickets, rounds))
            if isinstance(python, Path):
                (workdir / f"helpdesk{n}").mkdir()
                theirs.append(helpdesk_side(python, workdir / f"helpdesk{n}", tickets, rounds))
                if "error" in theirs[-1]:
                    python = theirs[-1]["error"]
    result["cxdesk"] = _medians(ours)
    if isinstance(python, str):
        result["django_helpdesk"] = {"error": python}
        return result
    result["django_helpdesk"] = {**_medians(theirs), "versions": theirs[0]["versions"]}
    a, b = result["cxdesk"], result["django_helpdesk"]
    result["cxdesk_vs_django_helpdesk"] = {
        "create_each": round(a["create_each_per_s"] / b["create_each_per_s"], 2),
        "create_batch": round(a["create_batch_per_s"] / b["create_batch_per_s"], 2),
        "list_first_page_speedup": round(
            b["list_first_page_median_ms"] / a["list_first_page_median_ms"], 2
        ),
    }
    return result


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: round(statistics.median(r[key] for r in runs), 2) for key in FIGURES} | {
        "runs": [{key: r[key] for key in FIGURES} for r in runs]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = run(args.tickets, args.rounds, args.repeats)
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
