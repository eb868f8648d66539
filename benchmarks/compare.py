"""cxdesk against django-helpdesk: creating tickets, working them, listing the open queue, on
SQLite.

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
  the queue joined), before the tickets are worked;
- work each of them through claim → respond → resolve, one transaction per step for the first
  N tickets, then the other N in one transaction: django-helpdesk's assignment, public
  comment and resolution, each a save of the `Ticket` with its `FollowUp` (and `TicketChange`
  for the owner and the status) as its ticket view writes them; cxdesk's `Claim`, `Respond`
  and `Resolve` commands as an agent, each at the version the previous one left (the ticket
  locked and checked, its stage moved, clocks refreshed, timeline entries and audit row
  written, the follow-up survey scheduled), the batch through `TicketService.batch`.

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

from sqlalchemy import func
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Stage, Ticket, TicketKind
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import Claim, Resolve, Respond
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService
from cxdesk.workflow.ops.schema import upgrade_database
from cxdesk.workflow.reads.queries import Sort, TicketFilter, View, list_tickets

HELPDESK_SIDE = Path(__file__).with_name("helpdesk_side.py")
QUEUE = "aftersales"
AGENT = "bench.agent"
REPLY = "您好，非常抱歉，我们已收到您的反馈，正在为您处理。"


def cxdesk_side(workdir: Path, tickets: int, rounds: int) -> dict[str, Any]:
    settings = Settings()
    db = Database.open(str(workdir / "cxdesk.db"), must_exist=False)
    upgrade_database(db)
    start = datetime.now(UTC)
    with db.write() as session:
        sync_org(session, settings)
        team = settings.queues[QUEUE].team
        add_agent(
            session,
            login=AGENT,
            display_name=AGENT,
            role="agent",
            teams=[team],
            skills=[],
            at=start,
        )
    service = TicketService(db, settings, SYSTEM_ACTOR)
    agent = TicketService(db, settings, AGENT)

    def create(session: Any, n: int) -> int:
        ticket = service.handle(
            OpenTicket(
                kind=TicketKind.CASE,
                queue_id=QUEUE,
                priority="P2",
                title=f"Customer {n}: the parcel came three days late",
                at=start + timedelta(milliseconds=n),
            ),
            session,
        )
        assert ticket.id is not None
        return ticket.id

    started = time.perf_counter()
    each_ids = []
    for n in range(tickets):
        with db.write() as session:
            each_ids.append(create(session, n))
    each = time.perf_counter() - started
    started = time.perf_counter()
    with db.write() as session:
        batch_ids = [create(session, n) for n in range(tickets, 2 * tickets)]
    batch = time.perf_counter() - started

    view = TicketFilter(view=View.UNASSIGNED, queue=QUEUE, sort=Sort.AGE)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        with db.session() as session:
            rows = list_tickets(session, view, limit=100)
        samples.append(time.perf_counter() - started)
    assert len(rows) == 100 and rows[0].number == batch_ids[-1], "not the newest open tickets"

    at = start + timedelta(hours=1)

    def cycle(ticket_id: int, session: Any = None) -> None:
        """Claim, respond, resolve: each at the version the step before left."""
        ticket = agent.handle(Claim(ticket_id, version=1, at=at), session)
        ticket = agent.handle(Respond(ticket_id, REPLY, version=ticket.version, at=at), session)
        agent.handle(
            Resolve(
                ticket_id,
                code="explanation",
                root_cause="the carrier's hub was overloaded",
                action="apologised and refunded the shipping",
                version=ticket.version,
                at=at,
            ),
            session,
        )

    started = time.perf_counter()
    for ticket_id in each_ids:
        cycle(ticket_id)
    cycle_each = time.perf_counter() - started
    started = time.perf_counter()
    with agent.batch(batch_ids) as in_batch:
        for ticket_id in batch_ids:
            cycle(ticket_id, in_batch.session)
    cycle_batch = time.perf_counter() - started
    with db.session() as session:
        resolved = session.exec(
            select(func.count()).select_from(Ticket).where(Ticket.stage == Stage.VERIFY)
        ).one()
    assert resolved == 2 * tickets, f"{resolved} of {2 * tickets} tickets resolved"
    db.dispose()
    return {
        "create_each_per_s": round(tickets / each),
        "create_batch_per_s": round(tickets / batch),
        "cycle_each_per_s": round(tickets / cycle_each),
        "cycle_batch_per_s": round(tickets / cycle_batch),
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


FIGURES = (
    "create_each_per_s",
    "create_batch_per_s",
    "cycle_each_per_s",
    "cycle_batch_per_s",
    "list_first_page_median_ms",
)


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
        "cycle_each": round(a["cycle_each_per_s"] / b["cycle_each_per_s"], 2),
        "cycle_batch": round(a["cycle_batch_per_s"] / b["cycle_batch_per_s"], 2),
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
