"""How long `cxdesk demo --no-tui` takes to build the small demo (and, with --large, the
1,000,000-ticket one), against starting Python and doing nothing, in the same run.

    python benchmarks/demo.py [--repeats 3] [--large]

Each build is a child process into a fresh database in a temporary directory, timed from
its start to its exit (the wall-clock time a person waits); the baseline is `python -c pass`
timed the same way, so that what the machine's load adds to starting a process shows. The
builds take turns with the baseline; each figure is the median of its runs. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def timed(*args: str) -> float:
    """Seconds from starting `python args` to its exit; an error if it fails."""
    started = time.perf_counter()
    run = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {run.stderr.strip()[-2000:]}")
    return elapsed


def build(workdir: Path, name: str, *options: str) -> float:
    return timed("-m", "cxdesk", "--db", str(workdir / name), "demo", "--no-tui", *options)


def run(repeats: int, large: bool) -> dict[str, Any]:
    small: list[float] = []
    baseline: list[float] = []
    result: dict[str, Any] = {"repeats": repeats}
    with tempfile.TemporaryDirectory(prefix="cxdesk-demo-") as tmp:
        workdir = Path(tmp)
        for n in range(repeats):
            baseline.append(timed("-c", "pass"))
            small.append(build(workdir, f"small{n}.db"))
        if large:
            result["large_s"] = round(build(workdir, "large.db", "--size", "large"), 1)
    result["small_median_s"] = round(statistics.median(small), 2)
    result["python_pass_median_s"] = round(statistics.median(baseline), 3)
    result["small_runs_s"] = [round(s, 2) for s in small]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also build the large demo once")
    args = parser.parse_args()
    json.dump(run(args.repeats, args.large), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
