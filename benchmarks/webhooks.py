"""What the webhook outbox costs ingest: events per second with no endpoint against one
endpoint that hears every opening, the same feed, in the same run.

    python benchmarks/webhooks.py [--events 100000] [--customers 30000] [--rounds 3]

Each round ingests the feed (`benchmarks/ingest.py`'s generator) into two fresh SQLite files,
one with no webhook endpoint and one with an endpoint for every event kind, each in a fresh
process, one right after the other, in alternating order. Prints the medians of the rates,
the median of the rounds' ratios (with / without), and the outbox rows written.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ingest import _remove_database, generate, timed_ingest  # the sibling's feed, ingest


def ingest_rate(feed: Path, workdir: Path, hooked: bool) -> dict[str, float]:
    from sqlmodel import func, select

    from cxdesk.config import Settings
    from cxdesk.config.webhooks import WebhookEndpoint, WebhooksConfig
    from cxdesk.models import WebhookDelivery

    endpoint = WebhookEndpoint(name="crm", url="https://crm.example/", secret="x" * 32)
    settings = Settings(webhooks=WebhooksConfig(endpoints=[endpoint] if hooked else []))
    rate, _summary, db = timed_ingest(feed, workdir, settings)
    with db.session() as session:
        rows = session.exec(select(func.count()).select_from(WebhookDelivery)).one()
    db.dispose()
    return {"rate": rate, "outbox_rows": rows}


def in_fresh_process(feed: Path, workdir: Path, hooked: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--one", str(feed), str(workdir), str(int(hooked))]
    result = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    _remove_database(workdir / "cxdesk.db")
    return json.loads(result)  # type: ignore[no-any-return]


def run(events: int, customers: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed.jsonl"
        generate(feed, events, customers, seed=1)
        pairs = []
        for n in range(rounds):
            workdir = Path(tmp) / f"round{n}"
            workdir.mkdir()
            order = (False, True) if n % 2 == 0 else (True, False)
            got = {hooked: in_fresh_process(feed, workdir, hooked) for hooked in order}
            pairs.append((got[False], got[True]))
    return {
        "events": events,
        "without_endpoints_per_s": round(statistics.median(p[0]["rate"] for p in pairs)),
        "with_one_endpoint_per_s": round(statistics.median(p[1]["rate"] for p in pairs)),
        "ratio_with_over_without": round(
            statistics.median(p[1]["rate"] / p[0]["rate"] for p in pairs), 3
        ),
        "outbox_rows": pairs[0][1]["outbox_rows"],
        "outbox_rows_without": pairs[0][0]["outbox_rows"],
        "rounds": [[round(p[0]["rate"]), round(p[1]["rate"])] for p in pairs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        feed, workdir, hooked = args.one
        print(json.dumps(ingest_rate(Path(feed), Path(workdir), hooked == "1")))
        return
    json.dump(run(args.events, args.customers, args.rounds), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
