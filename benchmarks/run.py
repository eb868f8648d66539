"""Every benchmark in one run: one JSON object on stdout, a table of the headline figures on
stderr.

    python benchmarks/run.py [--events 200000] [--large-db large.db] [--sweep-db sweep.db]
                             [--compare-tickets 5000] [--http-events 100000]
                             [--demo-large] [--postgres URL] [--alert-heavy]
                             [--search-postgres URL]
                             [--only ingest,http_ingest,tui,sweep,compare,audit,…]

- ingest: benchmarks/ingest.py, `cxdesk ingest` against a raw sqlite3 executemany (with
  --postgres, also into a scratch database on that PostgreSQL server, against SQLite; with
  --alert-heavy, of a feed where more than half the events alert);
- http_ingest: benchmarks/http_ingest.py, the same feed posted to `cxdesk serve` in
  requests of 1,000 events against `cxdesk ingest` of the file;
- tui: benchmarks/tui.py on the 1,000,000-ticket database of `cxdesk demo --size large`
  (built at --large-db if missing, five to six minutes on two cores);
- sweep: benchmarks/sweep.py, one sweep pass over 1,000,000 open tickets (the database is
  built at --sweep-db if missing, about two minutes);
- compare: benchmarks/compare.py, cxdesk against django-helpdesk (installed in a throwaway
  venv);
- audit: benchmarks/audit.py, `cxdesk audit verify` on the --large-db database against a
  bare loop computing the same HMACs over the same rows;
- backtest: benchmarks/backtest.py, `cxdesk rules backtest`'s replay of the --large-db
  database's 1,000,000 events against streaming the same rows with no rule evaluated;
- metric_alerts: benchmarks/metric_alerts.py, the metric alerts' look over a migrated copy
  of the --large-db database, from the hourly rollups against scanning the events;
- startup: benchmarks/startup.py, how soon `cxdesk --help`, `--version`, `ticket list` and
  `ticket show` on the --large-db database answer, against `python -c pass`;
- demo: benchmarks/demo.py, `cxdesk demo --no-tui` building the small demo (and with
  --demo-large the 1,000,000-ticket one) against `python -c pass`;
- search: benchmarks/search.py, the queue's filter through the word index on the --large-db
  database (migrated to the current schema first) against the substring scan it replaced. With
  --search-postgres, also on the large demo copied to PostgreSQL (`cxdesk db copy`).

Each benchmark runs in a child process of its own, so its peak resident memory is its own:
`peak_rss_mb` is the child's maximum RSS as the kernel reports it on exit (wait4). The
databases are kept for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "ingest",
    "http_ingest",
    "tui",
    "sweep",
    "compare",
    "audit",
    "backtest",
    "metric_alerts",
    "startup",
    "demo",
    "search",
)


def child(*args: str | Path) -> tuple[dict[str, Any] | str, float, float]:
    """Run a Python child; (its JSON on stdout or its error, peak RSS in MB, seconds)."""
    with tempfile.TemporaryFile("w+") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=HERE.parent,
        )
        assert process.stdout is not None
        out = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        errors.seek(0)
        if process.returncode != 0:
            lines = errors.read().strip().splitlines()[-10:]
            return (
                f"exit {process.returncode}: " + "\n".join(lines),
                usage.ru_maxrss / 1024,
                elapsed,
            )
    try:
        return json.loads(out), usage.ru_maxrss / 1024, elapsed
    except json.JSONDecodeError:
        return out.strip(), usage.ru_maxrss / 1024, elapsed


def ensure(path: Path, *build: str | Path) -> dict[str, Any] | None:
    """Build a database with `build` unless it exists; what the build took, or None."""
    if path.exists():
        return None
    result, _, seconds = child(*build)
    if isinstance(result, str) and result.startswith("exit "):
        raise RuntimeError(f"building {path} failed: {result}")
    return {"seconds": round(seconds, 1), "output": result}


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    only = set(args.only.split(",")) if args.only else set(BENCHMARKS)
    if "ingest" in only:
        on_postgres = ["--postgres", args.postgres] if args.postgres else []
        heavy = ["--alert-heavy"] if args.alert_heavy else []
        out, rss, _ = child(HERE / "ingest.py", "--events", str(args.events), *heavy, *on_postgres)
        if isinstance(out, dict):  # the ingesting process's own, not the driver's
            rss = out["ingest_peak_rss_mb"]
        results["ingest"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    if "http_ingest" in only:
        out, rss, _ = child(HERE / "http_ingest.py", "--events", str(args.http_events))
        results["http_ingest"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    if only & {"tui", "audit", "backtest", "metric_alerts", "startup", "search"}:
        built = ensure(
            args.large_db,
            "-m",
            "cxdesk",
            "--db",
            args.large_db,
            "demo",
            "--size",
            "large",
            "--no-tui",
        )
    if "tui" in only:
        out, rss, _ = child(HERE / "tui.py", "--db", args.large_db, "--rounds", str(args.rounds))
        results["tui"] = {"result": out, "peak_rss_mb": round(rss, 1), "built": built}
    if "sweep" in only:
        built = ensure(args.sweep_db, HERE / "sweep.py", "--db", args.sweep_db, "--build-only")
        out, rss, _ = child(HERE / "sweep.py", "--db", args.sweep_db)
        results["sweep"] = {"result": out, "peak_rss_mb": round(rss, 1), "built": built}
    if "compare" in only:
        out, rss, _ = child(HERE / "compare.py", "--tickets", str(args.compare_tickets))
        results["compare"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    if "audit" in only:
        out, rss, _ = child(HERE / "audit.py", "--db", args.large_db)
        if isinstance(out, dict):  # the verifying process's own, not the driver's
            rss = out["verify_peak_rss_mb"]
        results["audit"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    if "backtest" in only:
        out, rss, _ = child(HERE / "backtest.py", "--db", args.large_db)
        results["backtest"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    if "metric_alerts" in only:
        out, rss, _ = child(HERE / "metric_alerts.py", "--db", args.large_db)
        results["metric_alerts"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    if "startup" in only:
        out, rss, _ = child(HERE / "startup.py", "--db", args.large_db)
        results["startup"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    if "demo" in only:
        out, rss, _ = child(HERE / "demo.py", *(["--large"] if args.demo_large else []))
        results["demo"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    if "search" in only:
        out, rss, _ = child(HERE / "search.py", "--db", args.large_db)
        results["search"] = {"result": out, "peak_rss_mb": round(rss, 1)}
        if args.search_postgres:
            out, rss, _ = child(HERE / "search.py", "--db", args.search_postgres)
            results["search_postgres"] = {"result": out, "peak_rss_mb": round(rss, 1)}
    return results


def table(results: dict[str, Any]) -> str:
    """The headline figures, one per line."""
    rows: list[tuple[str, str]] = []

    def add(label: str, section: str, *path: str, unit: str = "") -> None:
        value: Any = results.get(section, {}).get("result")
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            rows.append((label, f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"))

    if isinstance(results.get("ingest", {}).get("result"), str):
        rows.append(("ingest", "failed: " + results["ingest"]["result"].splitlines()[-1]))
    events = results.get("ingest", {}).get("result", {})
    events = events.get("events") if isinstance(events, dict) else None
    add(
        f"ingest, {events:,} events" if events else "ingest",
        "ingest",
        "ingest_events_per_s",
        unit=" events/s",
    )
    add("raw sqlite3 executemany", "ingest", "raw_sqlite_rows_per_s", unit=" rows/s")
    add("ingest / raw sqlite", "ingest", "ratio")
    add("ingest on PostgreSQL / on SQLite", "ingest", "postgres_ratio")
    posted = results.get("http_ingest", {}).get("result")
    posted = f"{posted['events']:,} events" if isinstance(posted, dict) else "events"
    add(f"ingest over HTTP, {posted}", "http_ingest", "http_events_per_s", unit=" events/s")
    add("  cxdesk ingest, same file", "http_ingest", "ingest_events_per_s", unit=" events/s")
    add("  HTTP / cxdesk ingest", "http_ingest", "ratio")
    add("TUI first paint (1M tickets), median", "tui", "first_paint", "median_s", unit=" s")
    add("TUI cursor key, median", "tui", "cursor", "median_ms", unit=" ms")
    add("TUI view switch, median", "tui", "switch_view", "median_ms", unit=" ms")
    add("TUI filter, median", "tui", "apply_filter", "median_ms", unit=" ms")
    add("TUI dashboard key, median", "tui", "dashboard", "median_ms", unit=" ms")
    swept = results.get("sweep", {}).get("result")
    swept = f"{swept['open_tickets']:,} open" if isinstance(swept, dict) else "open tickets"
    add(f"sweep, {swept}, nothing due", "sweep", "steady_pass", "median_ms", unit=" ms")
    add(f"sweep, {swept}, with new work", "sweep", "new_pass", "median_ms", unit=" ms")
    add("  tickets handled per pass", "sweep", "new_pass", "handled_median")
    add("  per ticket handled", "sweep", "new_pass", "act_per_ticket_median_ms", unit=" ms")
    add("metric alerts look (each 5 min)", "sweep", "metric_alerts_look_ms", unit=" ms")
    for figure, key, unit in (
        ("create, 1 tx each", "create_each_per_s", "/s"),
        ("create, one tx", "create_batch_per_s", "/s"),
        ("claim → respond → resolve, 1 tx each step", "cycle_each_per_s", "/s"),
        ("claim → respond → resolve, one tx", "cycle_batch_per_s", "/s"),
        ("open queue page", "list_first_page_median_ms", " ms"),
    ):
        for name, side in (("cxdesk", "cxdesk"), ("django-helpdesk", "django_helpdesk")):
            add(f"{name} {figure}", "compare", side, key, unit=unit)
    for figure in ("create_each", "create_batch", "cycle_each", "cycle_batch"):
        add(f"  cxdesk / django-helpdesk, {figure}", "compare", "cxdesk_vs_django_helpdesk", figure)
    add("django-helpdesk", "compare", "django_helpdesk", "error")
    add("audit verify (1M tickets), median", "audit", "verify_s", unit=" s")
    add("  rows and timeline entries", "audit", "rows_per_s", unit="/s")
    add("  verify / bare HMAC loop", "audit", "ratio")
    add("rules backtest (1M events), median", "backtest", "events_per_s", unit=" events/s")
    add("  backtest / streaming the rows", "backtest", "ratio_to_stream")
    add("metric alerts look (1M events), median", "metric_alerts", "rollups_median_ms", unit=" ms")
    add("  scanning the events / rollups", "metric_alerts", "ratio_scan_to_rollups")
    add("python -c pass (the floor), median", "startup", "python -c pass", "median_s", unit=" s")
    for command in ("--help", "--version", "rules check", "ticket list --limit 20", "ticket show"):
        add(f"cxdesk {command}, median", "startup", f"cxdesk {command}", "median_s", unit=" s")
        add("  against the floor", "startup", f"cxdesk {command}", "x_floor", unit="x")
    add("cxdesk demo --no-tui (small), median", "demo", "small_median_s", unit=" s")
    add("  python -c pass, median", "demo", "python_pass_median_s", unit=" s")
    add("cxdesk demo --no-tui --size large", "demo", "large_s", unit=" s")
    add("filter (1M tickets), worst p95, word index", "search", "worst_index_p95_ms", unit=" ms")
    add("  worst p95, substring scan", "search", "worst_like_p95_ms", unit=" ms")
    add("  on PostgreSQL, word index", "search_postgres", "worst_index_p95_ms", unit=" ms")
    add("  on PostgreSQL, substring scan", "search_postgres", "worst_like_p95_ms", unit=" ms")
    for section in (*BENCHMARKS, "search_postgres"):
        if section in results:
            rows.append((f"peak RSS, {section}", f"{results[section]['peak_rss_mb']} MB"))
            if isinstance(results[section]["result"], str):
                rows.append((f"{section} failed", results[section]["result"].splitlines()[-1]))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="ingest feed size")
    parser.add_argument("--large-db", type=Path, default=Path("large-benchmark.db"))
    parser.add_argument("--sweep-db", type=Path, default=Path("sweep-benchmark.db"))
    parser.add_argument("--compare-tickets", type=int, default=5_000)
    parser.add_argument("--http-events", type=int, default=100_000, help="HTTP ingest feed size")
    parser.add_argument("--rounds", type=int, default=30, help="key presses per TUI measure")
    parser.add_argument("--demo-large", action="store_true", help="demo: also the large one")
    parser.add_argument("--postgres", metavar="URL", help="ingest: also on this server")
    parser.add_argument(
        "--alert-heavy", action="store_true", help="ingest: a feed where most events alert"
    )
    parser.add_argument(
        "--search-postgres",
        metavar="URL",
        help="search: also the large demo copied to this PostgreSQL database (cxdesk db copy)",
    )
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    args = parser.parse_args()
    args.large_db, args.sweep_db = args.large_db.resolve(), args.sweep_db.resolve()
    results = run(args)
    json.dump(results, sys.stdout, indent=2, ensure_ascii=False)
    print()
    print(table(results), file=sys.stderr)


if __name__ == "__main__":
    main()
