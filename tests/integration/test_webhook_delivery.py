"""Delivering the webhook outbox to a real receiver on localhost, on both backends: signed,
retried with backoff until it is taken, given up after the last attempt, in order per
ticket, once per event with two deliverers at once, and across a deliverer killed after its
claim. Hostile receivers (one that stalls, one that redirects, one that answers with a
gigabyte) cost an attempt, not the pass."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.config.webhooks import WebhookEndpoint, WebhooksConfig
from cxdesk.db import Database
from cxdesk.models import WebhookDelivery
from cxdesk.workflow.loop.desk_commands import Escalate
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.ops import webhooks
from cxdesk.workflow.ops.webhooks import ROUND, deliver
from cxdesk.workflow.reads.deliveries import list_deliveries
from tests.conftest import Run
from tests.integration.test_problem_scope import staff
from tests.integration.test_sweep import T0
from tests.integration.test_webhook_events import SECRET, ingest
from tests.integration.webhook_receiver import Receiver, receiving


def settings_for(url: str, **config: object) -> Settings:
    endpoint = WebhookEndpoint(name="crm", url=url, secret=SECRET, timeout=2)
    return Settings(webhooks=WebhooksConfig(endpoints=[endpoint], **config))  # type: ignore[arg-type]


def rows(db: Database) -> list[WebhookDelivery]:
    with db.session() as session:
        return list(session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))


def three_events(db: Database, settings: Settings, customer_events: str = "e") -> list[str]:
    """A case opened, escalated twice: three events of one ticket, in this order."""
    staff(db)
    tid = ingest(db, settings, f"{customer_events}1", T0, nps=2)
    sue = TicketService(db, settings, "sue")
    sue.handle(Escalate(tid, reason="one", at=T0))
    sue.handle(Escalate(tid, reason="two", at=T0))
    return [row.event_id for row in rows(db)]


def test_a_refusing_receiver_is_retried_with_backoff_until_it_takes_each_event_once(
    db: Database,
) -> None:
    with receiving(Receiver(SECRET, refuse_first=2)) as receiver:
        settings = settings_for(receiver.url)
        sent = three_events(db, settings)
        now = datetime.now(UTC)
        first = deliver(db, settings, now)
        # the first refusal stops the endpoint for the pass: one attempt, nothing overtaken
        assert (first.delivered, first.retrying, receiver.attempts) == (0, 1, 1)
        head = rows(db)[0]
        assert (head.attempts, head.last_status, head.status) == (1, 500, "pending")
        assert head.last_error == "HTTP 500: [31mnot now稍后"  # ESC and NUL never kept
        assert head.next_at == now + timedelta(minutes=1)
        assert deliver(db, settings, now + timedelta(seconds=30)).retrying == 0  # not yet due
        second = deliver(db, settings, now + timedelta(minutes=1))
        assert second.retrying == 1 and rows(db)[0].next_at == now + timedelta(minutes=3)
        third = deliver(db, settings, now + timedelta(minutes=3))
        assert third.delivered == 3
        assert receiver.ids() == sent  # in the order they happened
        assert receiver.bad_signatures == receiver.duplicates == 0
        done = rows(db)
        assert [(r.status, r.attempts) for r in done] == [
            ("delivered", 3),
            ("delivered", 1),
            ("delivered", 1),
        ]
        with db.session() as session:
            assert list_deliveries(session, ["pending", "failed"], 10) == []


def test_a_delivery_is_given_up_after_its_last_attempt_and_cleaned_later(db: Database) -> None:
    with receiving(Receiver(SECRET, refuse_first=1000)) as receiver:
        settings = settings_for(receiver.url, max_attempts=2, keep=timedelta(days=1))
        staff(db)
        ingest(db, settings, "e1", T0, nps=2)
        now = datetime.now(UTC)
        assert deliver(db, settings, now).retrying == 1
        assert deliver(db, settings, now + timedelta(hours=1)).failed == 1
        assert deliver(db, settings, now + timedelta(hours=12)).failed == 0  # not tried again
        (row,) = rows(db)
        assert (row.status, row.attempts, row.last_status) == ("failed", 2, 500)
        with db.session() as session:
            (listed,) = list_deliveries(session, ["failed"], 10)
        assert listed.last_error == row.last_error and listed.attempts == 2
        assert receiver.attempts == 2
        assert deliver(db, settings, now + timedelta(days=2)).cleaned == 1
        assert rows(db) == []


def test_a_later_event_of_a_ticket_waits_for_an_earlier_one_being_retried(db: Database) -> None:
    with receiving(Receiver(SECRET)) as receiver:
        settings = settings_for(receiver.url)
        sent = three_events(db, settings)
        receiver.refuse_ids[sent[1]] = 1  # the second event is refused once
        now = datetime.now(UTC)
        deliver(db, settings, now)
        assert receiver.ids() == sent[:1]
        # an hour on, nothing overtakes: the second goes, then the third
        deliver(db, settings, now + timedelta(hours=1))
        assert receiver.ids() == sent


def test_two_deliverers_at_once_send_each_event_once(db: Database) -> None:
    with receiving(Receiver(SECRET)) as receiver:
        settings = settings_for(receiver.url)
        staff(db)
        for n in range(ROUND + 10):  # more than one round's claim
            ingest(db, settings, f"e{n}", T0 + timedelta(minutes=n), f"c{n}", nps=2)
        sent = {row.event_id for row in rows(db)}
        now = datetime.now(UTC)
        start = threading.Barrier(2)
        reports = []

        def run() -> None:
            start.wait()
            reports.append(deliver(db, settings, now))

        workers = [threading.Thread(target=run) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert sum(report.delivered for report in reports) == len(sent)
        assert set(receiver.ids()) == sent and receiver.duplicates == 0


def test_a_later_round_is_leased_from_the_time_it_is_claimed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass whose rounds take long leases each round from when it claims, not from when
    the pass began: else a later round's lease has run out while it is sent, and another
    deliverer would send its rows again."""
    with receiving(Receiver(SECRET)) as receiver:
        settings = settings_for(receiver.url)
        sent = three_events(db, settings)
        ticks = iter(range(0, 10**6, 600))  # each look at the clock: ten minutes on
        monkeypatch.setattr(webhooks, "monotonic", lambda: float(next(ticks)), raising=False)
        monkeypatch.setattr(webhooks, "ROUND", 1)
        claimed_at = []
        real_claim = webhooks.claim

        def claim(*args: Any) -> Any:
            claimed_at.append(args[2])
            return real_claim(*args)

        monkeypatch.setattr(webhooks, "claim", claim)
        now = datetime.now(UTC)
        assert deliver(db, settings, now).delivered == 3
        assert receiver.ids() == sent
        assert all(
            later - earlier >= timedelta(minutes=10) for earlier, later in pairwise(claimed_at)
        )


DIES_AFTER_CLAIMING = """
import sys, time
from datetime import datetime
from cxdesk.db import Database
from cxdesk.config.webhooks import WebhookEndpoint
from cxdesk.workflow.ops.webhooks import claim

db = Database.open(sys.argv[1])
endpoint = WebhookEndpoint(name="crm", url=sys.argv[2], secret="x" * 20, timeout=2)
claimed = claim(db, ["crm"], datetime.fromisoformat(sys.argv[3]), {"crm": endpoint})
print(len(claimed[1]) if claimed else 0, flush=True)
time.sleep(120)
"""


def test_events_claimed_by_a_deliverer_killed_before_sending_arrive_after_a_restart(
    db: Database, tmp_path: Path
) -> None:
    with receiving(Receiver(SECRET)) as receiver:
        port = int(receiver.url.split(":")[2].split("/")[0])
    # The receiver is down now: the events are written all the same.
    settings = settings_for(f"http://127.0.0.1:{port}/hook")
    sent = three_events(db, settings)
    now = datetime.now(UTC)
    dying = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DIES_AFTER_CLAIMING,
            db.url,
            settings.webhooks.endpoints[0].url,
            now.isoformat(),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + str(Path(__file__).parents[2])},
    )
    assert dying.stdout is not None
    assert dying.stdout.readline().strip() == "3"
    os.kill(dying.pid, signal.SIGKILL)
    dying.wait()
    # While the dead deliverer's lease lasts, nobody sends its rows.
    assert deliver(db, settings, now + timedelta(seconds=10)).delivered == 0
    assert [row.attempts for row in rows(db)] == [0, 0, 0]
    later = now + timedelta(minutes=10)
    down = deliver(db, settings, later)  # past the lease; the receiver is still down
    assert down.retrying == 1
    assert rows(db)[0].last_error.startswith("could not send")
    with receiving(Receiver(SECRET), port=port) as receiver:
        back = deliver(db, settings, later + timedelta(hours=1))
        assert back.delivered == 3
        assert receiver.ids() == sent and receiver.duplicates == 0


# -- hostile receivers: SQLite is enough, the database does nothing new here -------------------

pytestmark_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytestmark_sqlite
def test_a_receiver_that_stalls_costs_one_timeout(db: Database) -> None:
    with receiving(Receiver(SECRET, mode="slow")) as receiver:
        endpoint = WebhookEndpoint(name="crm", url=receiver.url, secret=SECRET, timeout=0.5)
        settings = Settings(webhooks=WebhooksConfig(endpoints=[endpoint]))
        three_events(db, settings)
        report = deliver(db, settings, datetime.now(UTC))
        assert (report.delivered, report.retrying, receiver.attempts) == (0, 1, 1)
        assert rows(db)[0].last_error == "no answer within 0.5 s"


@pytestmark_sqlite
def test_a_redirect_is_not_followed(db: Database) -> None:
    with receiving(Receiver(SECRET, mode="redirect")) as receiver:
        settings = settings_for(receiver.url)
        three_events(db, settings)
        assert deliver(db, settings, datetime.now(UTC)).retrying == 1
        assert receiver.redirect_hits == 0
        head = rows(db)[0]
        assert head.last_status == 302
        assert head.last_error == ("HTTP 302: redirected to /elsewhere; redirects are not followed")


@pytestmark_sqlite
def test_a_gigabyte_answer_is_not_read(db: Database) -> None:
    with receiving(Receiver(SECRET, mode="huge")) as receiver:
        settings = settings_for(receiver.url)
        three_events(db, settings)
        assert deliver(db, settings, datetime.now(UTC)).retrying == 1
        head = rows(db)[0]
        assert head.last_error == ("HTTP 500: " + "x" * 512)[:500]  # as much as is kept
    assert receiver.huge_written < 1 << 30


@pytestmark_sqlite
def test_an_endpoint_whose_secret_is_unset_is_left_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_SECRET", raising=False)
    endpoint = WebhookEndpoint(name="crm", url="http://127.0.0.1:9/", secret_env="CRM_SECRET")
    settings = Settings(webhooks=WebhooksConfig(endpoints=[endpoint]))
    three_events(db, settings)
    report = deliver(db, settings, datetime.now(UTC))
    assert report.unusable == {
        "crm": "the environment variable CRM_SECRET holds no secret of 16 characters"
    }
    assert [row.attempts for row in rows(db)] == [0, 0, 0]


def test_webhooks_list_and_deliver_are_for_admins(
    new_db: str, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hooks.toml"
    config.write_text(
        '[[webhooks.endpoints]]\nname = "crm"\nurl = "http://127.0.0.1:9/"\n'
        'secret_env = "CRM_SECRET"\n'
    )
    monkeypatch.setenv("CRM_SECRET", SECRET)
    db = ("--db", new_db, "--config", str(config))
    assert run(*db, "init")[0] == 0
    run(*db, "user", "add", "ann", "--team", "care")
    code, out, _ = run(*db, "webhooks", "list", "--format", "json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run(*db, "webhooks", "deliver", "--format", "json")
    assert code == 0 and json.loads(out)["delivered"] == 0
    code, _, err = run(*db, "--as", "ann", "webhooks", "list")
    assert code == 2 and "only admins may" in err


def test_a_wanted_event_written_by_the_cli_is_listed_pending(
    new_db: str, run: Run, tmp_path: Path
) -> None:
    config = tmp_path / "hooks.toml"
    config.write_text(
        f'[[webhooks.endpoints]]\nname = "crm"\nurl = "http://127.0.0.1:9/"\nsecret = "{SECRET}"\n'
    )
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps(
            {
                "event_id": "e1",
                "kind": "survey",
                "occurred_at": T0.isoformat(),
                "customer": {"id": "c1"},
                "nps": 0,
            }
        )
        + "\n"
    )
    db = ("--db", new_db, "--config", str(config))
    assert run(*db, "init")[0] == 0
    assert run(*db, "ingest", str(feed))[0] == 0
    code, out, _ = run(*db, "webhooks", "list")
    assert code == 0 and "ticket.opened" in out and "pending" in out and "\x1b" not in out
    code, out, _ = run(*db, "webhooks", "list", "--format", "json")
    (listed,) = json.loads(out)
    assert (listed["kind"], listed["attempts"], listed["status"]) == ("ticket.opened", 0, "pending")


def test_watch_delivers_after_its_sweep(
    new_db: str, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import syslog

    with receiving(Receiver(SECRET)) as receiver:
        config = tmp_path / "hooks.toml"
        config.write_text(
            f'[[webhooks.endpoints]]\nname = "crm"\nurl = "{receiver.url}"\n'
            'secret_env = "CRM_SECRET"\n'
        )
        monkeypatch.setenv("CRM_SECRET", SECRET)
        feed = tmp_path / "feed.jsonl"
        answers = [
            {"event_id": f"e{n}", "kind": "survey", "occurred_at": T0.isoformat()}
            | {"customer": {"id": f"c{n}"}, "nps": 0}
            for n in range(3)
        ]
        feed.write_text("".join(json.dumps(answer) + "\n" for answer in answers))
        db = ("--db", new_db, "--config", str(config))
        assert run(*db, "init")[0] == 0
        assert run(*db, "ingest", str(feed))[0] == 0
        # one pass: the audit head is logged after the deliveries, and stops the watch
        monkeypatch.setattr(syslog, "syslog", lambda *_: os.kill(os.getpid(), signal.SIGTERM))
        monkeypatch.setattr(syslog, "openlog", lambda *_: None)
        handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        try:
            code, out, err = run(*db, "watch", "--interval", "1")
        finally:
            signal.signal(signal.SIGTERM, handlers[0])
            signal.signal(signal.SIGINT, handlers[1])
        assert code == 0 and "watch stopped" in err
        # long past T0, the sweep breached both clocks of each case: told in the same pass
        assert "sweep: {'breaches': 3}" in out and "webhooks: {'delivered': 12}" in out
        by_customer: dict[str, list[str]] = {}
        for event in receiver.accepted:
            by_customer.setdefault(event["ticket"]["customer_id"], []).append(event["kind"])
        each = ["ticket.opened", "ticket.breached", "ticket.breached", "ticket.escalated"]
        assert by_customer == {"c0": each, "c1": each, "c2": each}
        assert receiver.bad_signatures == 0


@pytestmark_sqlite
@pytest.mark.parametrize("mode", ["trickle-headers", "trickle-body"])
def test_a_receiver_that_trickles_its_answer_costs_one_timeout_in_all(
    db: Database, mode: str
) -> None:
    """Every byte comes well within a read timeout, the answer in twenty seconds: the
    attempt is abandoned at its deadline all the same, long before its lease runs out."""
    with receiving(Receiver(SECRET, mode=mode)) as receiver:
        endpoint = WebhookEndpoint(name="crm", url=receiver.url, secret=SECRET, timeout=0.5)
        settings = Settings(webhooks=WebhooksConfig(endpoints=[endpoint]))
        three_events(db, settings)
        report = deliver(db, settings, datetime.now(UTC))
        assert (report.delivered, report.retrying, receiver.attempts) == (0, 1, 1)
        head = rows(db)[0]
        assert (head.last_status, head.last_error) == (None, "no answer within 0.5 s")
