"""How soon the command line answers, against starting Python itself in the same run.

    python benchmarks/cli.py [--db large.db] [--rounds 15]

Times, as a person at the terminal waits for them (a fresh process each, wall clock):
`python -c pass` (the floor), `cxdesk --help`, and with --db `cxdesk ticket list --limit 20`
as that database's admin. The three take turns round by round, so a busy machine slows them
alike; each figure is the median and the 95th percentile of its rounds, with its ratio to the
floor. Prints JSON.
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

CXDESK = Path(sys.executable).with_name("cxdesk")


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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a database to list tickets from")
    parser.add_argument("--as", dest="login", default="zhou.min", help="its admin (demo: zhou.min)")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    commands: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "cxdesk --help": [str(CXDESK), "--help"],
    }
    if args.db is not None:
        list_args = ["--db", str(args.db), "--as", args.login, "ticket", "list", "--limit", "20"]
        commands["cxdesk ticket list --limit 20"] = [str(CXDESK), *list_args]
    runs: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        timed(command)  # warm the file cache: the first run reads the disk
    for _ in range(args.rounds):
        for name, command in commands.items():
            runs[name].append(timed(command))
    floor = statistics.median(runs["python -c pass"])
    report: dict[str, Any] = {name: figures(times, floor) for name, times in runs.items()}
    report["rounds"] = args.rounds
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
