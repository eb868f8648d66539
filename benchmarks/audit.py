"""Audit verification speed: `cxdesk audit verify` against a bare loop doing the same hashing.

    cxdesk --db /tmp/large.db demo --size large --no-tui     # once: 1,000,000 tickets
    python benchmarks/audit.py --db /tmp/large.db [--rounds 3]

Each round runs the real command (`cxdesk audit verify`: the keyed chain of every audit
row, and the digest of every timeline entry written since the chain was keyed, checked
against those the rows record) in a fresh process, then, right after it in another fresh
process, the floor it cannot beat: a bare loop reading the same rows with sqlite3 and
computing the same HMAC-SHA256 over the same JSON, checking nothing. The ratio of the two
(verify's time over the loop's) is taken within each round, under the same load on a shared
machine. Prints JSON: the medians of the rounds (seconds, rows per second, ratio), each
round, what verify said and its peak memory. `--deep` times `audit verify --deep` as well.
"""

from __future__ import annotations

import argparse
import hmac
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def bare_loop(db: Path) -> dict[str, Any]:
    """Read every audit row and timeline entry and HMAC the JSON of each, chained as verify
    chains them; no datetime parsing, no comparison. Run in a process of its own."""
    key = bytes.fromhex(Path(f"{db}.key").read_text(encoding="ascii").strip())
    dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    started = time.perf_counter()
    previous, rows = "", 0
    audit = "SELECT at, actor, action, ticket_id, detail FROM audit_log ORDER BY id"
    for at, actor, action, ticket, detail in connection.execute(audit):
        payload = dumps([previous, at, actor, action, ticket, json.loads(detail)])
        previous = hmac.digest(key, payload.encode(), "sha256").hex()
        rows += 1
    total, entries = 0, 0
    timeline = "SELECT ticket_id, at, actor, kind, body, event_id, data FROM timeline_entries"
    for ticket, at, actor, kind, body, event, data in connection.execute(timeline):
        payload = dumps([ticket, at, actor, kind, body, event, json.loads(data)])
        total += int.from_bytes(hmac.digest(key, payload.encode(), "sha256")[:16])
        entries += 1
    return {"seconds": time.perf_counter() - started, "rows": rows, "entries": entries}


DEMO_ADMIN = "zhou.min"  # verify is for admins; whoever builds the demo is a supervisor in it


def timed_verify(db: Path, *options: str) -> tuple[float, str]:
    """The real command in a fresh process: its wall time and what it printed."""
    command = [sys.executable, "-m", "cxdesk", "--db", str(db), "--as", DEMO_ADMIN, "audit"]
    command += ["verify", *options]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"audit verify failed: {result.stdout}{result.stderr}")
    return seconds, result.stdout.strip()


def run(db: Path, rounds: int, deep: bool) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    said = ""
    for _ in range(rounds):
        verify_s, said = timed_verify(db)
        loop = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--bare", str(db)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        rows = loop["rows"] + loop["entries"]
        results.append(
            {
                "verify_s": round(verify_s, 2),
                "bare_loop_s": round(loop["seconds"], 2),
                "rows_per_s": round(rows / verify_s),
                "bare_rows_per_s": round(rows / loop["seconds"]),
                "ratio": round(verify_s / loop["seconds"], 2),
            }
        )
    report: dict[str, Any] = {
        "audit_rows": loop["rows"],
        "timeline_entries": loop["entries"],
        **{
            key: statistics.median(r[key] for r in results)
            for key in ("verify_s", "bare_loop_s", "rows_per_s", "bare_rows_per_s", "ratio")
        },
        "rounds": results,
        "verify_said": said,
        # the largest of the children: verify's (the bare loop holds one row at a time)
        "verify_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }
    if deep:
        seconds, said = timed_verify(db, "--deep")
        report["deep_s"], report["deep_said"] = round(seconds, 2), said
    return report


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--bare":
        print(json.dumps(bare_loop(Path(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="made by `demo --size large`")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deep", action="store_true", help="time `audit verify --deep` too")
    args = parser.parse_args()
    print(json.dumps(run(args.db.resolve(), args.rounds, args.deep), indent=2))


if __name__ == "__main__":
    main()
