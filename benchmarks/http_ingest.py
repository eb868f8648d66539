"""Ingest over HTTP: events per second posted to `cxdesk serve`, against `cxdesk ingest` of the
same file in the same run.

    python benchmarks/http_ingest.py [--events 100000] [--batch 1000] [--senders 2] [--rounds 3]
                                     [--ingest-batch N]

Generates the JSON Lines feed of benchmarks/ingest.py. Each round ingests it into a fresh
SQLite file with `cxdesk ingest`'s own path in a fresh process (as benchmarks/ingest.py
measures it), then starts `cxdesk serve` (a real uvicorn, its own process) on another fresh
file and posts the same lines, `--batch` a request, from `--senders` client threads at once
(each waits for its answer before sending its next), timing from the first request to the
last answer. Both databases are set up alike (`cxdesk init` and the default rules) and
deleted once measured. Prints JSON: the medians of the rounds (rates and the ratio
http/ingest), each round, and the server's summary of outcomes. `--ingest-batch` sets the
records of ingest's transactions (its default, 10,000, without): `--ingest-batch` equal to
`--batch` compares the two at the same transaction size, each request being one.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest import _remove_database, generate, ingest_in_fresh_process  # noqa: E402

NOW = "2026-03-01T00:00:00+00:00"  # the clock benchmarks/ingest.py runs its ingest at
TOKEN = "cxd_benchmark-token"


def _cxdesk(db: Path, *args: str) -> None:
    command = [sys.executable, "-m", "cxdesk", "--db", str(db), *args]
    subprocess.run(command, check=True, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(workdir: Path, batch: int) -> tuple[subprocess.Popen[bytes], str]:
    """A new database with an ingest account, and `cxdesk serve` over it."""
    from cxdesk.web.callers import token_hash

    db = workdir / "served.db"
    _cxdesk(db, "init")
    _cxdesk(db, "user", "add", "feed", "--role", "ingest")
    port = _free_port()
    (workdir / "cxdesk.toml").write_text(
        f'[serve]\nlisten = "127.0.0.1:{port}"\nmax_records = {batch}\n'
        "rate = 100000\nburst = 100000\n"
        f'[[serve.tokens]]\nlogin = "feed"\nsha256 = "{token_hash(TOKEN)}"\n'
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "cxdesk", "--db", str(db), "--now", NOW, "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CXDESK_CONFIG": str(workdir / "cxdesk.toml")},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("cxdesk serve did not start")
        time.sleep(0.1)


def _bodies(feed: Path, batch: int) -> list[bytes]:
    lines = feed.read_bytes().splitlines(keepends=True)
    return [b"".join(lines[n : n + batch]) for n in range(0, len(lines), batch)]


def http_rate(feed: Path, workdir: Path, batch: int, senders: int) -> tuple[float, dict]:
    """Events per second posted to a fresh server, and how many of each outcome."""
    bodies = _bodies(feed, batch)
    server, url = _start_server(workdir, batch)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    lock = threading.Lock()
    next_body = iter(bodies)

    def send() -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            while True:
                with lock:
                    body = next(next_body, None)
                if body is None:
                    return
                answer = client.post("/v1/events", content=body, headers=headers)
                if answer.status_code not in (200, 207):
                    with lock:
                        failures.append(f"{answer.status_code} {answer.text[:200]}")
                    continue
                told = answer.json()  # read once: the client shares the machine's cores
                with lock:
                    for status in ("accepted", "duplicate", "quarantined"):
                        outcomes[status] += told[status]

    try:
        threads = [threading.Thread(target=send) for _ in range(senders)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, the first: {failures[0]}")
    return sum(outcomes.values()) / elapsed, dict(outcomes)


def run(
    events: int, customers: int, batch: int, senders: int, rounds: int, ingest_batch: int | None
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed.jsonl"
        generate(feed, events, customers, seed=1)
        results = []
        for n in range(rounds):
            workdir = Path(tmp) / f"round{n}"
            workdir.mkdir()
            ingest = ingest_in_fresh_process(feed, workdir, ingest_batch)
            _remove_database(workdir / "cxdesk.db")
            rate, outcomes = http_rate(feed, workdir, batch, senders)
            _remove_database(workdir / "served.db")
            results.append({"ingest": ingest["rate"], "http": rate, "ratio": rate / ingest["rate"]})
    return {
        "events": events,
        "batch": batch,
        "ingest_batch": ingest_batch,
        "senders": senders,
        "http_events_per_s": round(statistics.median(r["http"] for r in results)),
        "ingest_events_per_s": round(statistics.median(r["ingest"] for r in results)),
        "ratio": round(statistics.median(r["ratio"] for r in results), 3),
        "rounds": [
            {"http": round(r["http"]), "ingest": round(r["ingest"]), "ratio": round(r["ratio"], 3)}
            for r in results
        ],
        "outcomes": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000, help="events a request")
    parser.add_argument("--senders", type=int, default=2, help="requests under way at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ingest-batch", type=int, help="records a transaction of ingest's")
    args = parser.parse_args()
    result = run(
        args.events, args.customers, args.batch, args.senders, args.rounds, args.ingest_batch
    )
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
