"""How soon the command line answers, against starting Python itself in the same run.

    python benchmarks/startup.py [--db large.db] [--as LOGIN] [--ticket CX-000001]
                                 [--rounds 15] [--cxdesk PATH]

Times, as a person at the terminal waits for them (a fresh process each, wall clock):
`python -c pass` (the floor), `cxdesk --help`, `cxdesk --version`, `cxdesk rules check` (the
default alert rules compiled, as every command that reads a rule does first), and with --db
`cxdesk ticket list --limit 20` and `cxdesk ticket show TICKET` as that database's admin.
They take turns round by round, so a busy machine slows them alike; each figure is the
median and the 95th percentile of its rounds, with its ratio to the floor and what it takes
beyond it. --cxdesk times another installation's command (an older checkout's, say) against
the same floor. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    took = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return took


def figures(runs: list[float], floor: float) -> dict[str, float]:
    median = statistics.median(runs)
    p95 = sorted(runs)[max(0, round(0.95 * len(runs)) - 1)]
    return {
        "median_s": round(median, 4),
        "p95_s": round(p95, 4),
        "x_floor": round(median / floor, 2),
        "over_floor_s": round(median - floor, 4),
    }


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """What is timed, by name; the first is the floor."""
    cxdesk = str(args.cxdesk)
    timed_commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "cxdesk --help": [cxdesk, "--help"],
        "cxdesk --version": [cxdesk, "--version"],
        "cxdesk rules check": [cxdesk, "rules", "check"],
    }
    if args.db is not None:
        on_db = [cxdesk, "--db", str(args.db), "--as", args.login]
        timed_commands["cxdesk ticket list --limit 20"] = [
            *on_db,
            "ticket",
            "list",
            "--limit",
            "20",
        ]
        timed_commands["cxdesk ticket show"] = [*on_db, "ticket", "show", args.ticket]
    return timed_commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a database to list and show tickets from")
    parser.add_argument("--as", dest="login", default="zhou.min", help="its admin (demo: zhou.min)")
    parser.add_argument("--ticket", default="CX-000001", help="the ticket `ticket show` shows")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--cxdesk",
        type=Path,
        default=Path(sys.executable).with_name("cxdesk"),
        help="the command timed [default: the one beside this Python]",
    )
    args = parser.parse_args()
    timed_commands = commands(args)
    runs: dict[str, list[float]] = {name: [] for name in timed_commands}
    for command in timed_commands.values():
        timed(command)  # warm the file cache: the first run reads the disk
    for _ in range(args.rounds):
        for name, command in timed_commands.items():
            runs[name].append(timed(command))
    floor = statistics.median(runs["python -c pass"])
    report: dict[str, Any] = {name: figures(times, floor) for name, times in runs.items()}
    report["rounds"] = args.rounds
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
