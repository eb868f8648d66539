"""The README's two sample follow-up commands, run for real by the sweep: the mail command
to a local SMTP server (and through a sendmail), and curl posting to a local webhook."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sys
import threading
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.config.followups import FollowupDeliveryConfig
from cxdesk.db import Database
from cxdesk.models import Customer, FollowUp
from cxdesk.workflow.sweep import sweep
from tests.integration.test_followup_delivery import RESOLVED, resolved_case

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[list[str]]:
    """The sample `followup_command`s of the README's follow-up section, as written there."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Follow-up delivery") :].split("\n## ")[0]
    lines = re.findall(r"^\s*(followup_command = \[.*\])$", section, re.M)
    return [tomllib.loads(line)["followup_command"] for line in lines]


MAIL_SAMPLE, CURL_SAMPLE = readme_commands()
assert MAIL_SAMPLE[0] == "python3"  # run here by this interpreter, cxdesk's own
MAIL = [sys.executable, *MAIL_SAMPLE[1:]]
HOSTILE_NAME = "王芳\r\nBcc: spy@evil.test\x1b]2;PWNED\x07"


class Sink:
    """An SMTP server's end: keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def hostile_customer(db: Database) -> None:
    """Stored as text that came in before it was cleaned: the sender must cope."""
    with db.write() as session:
        customer = session.get_one(Customer, "c1")
        customer.name = HOSTILE_NAME


@pytest.mark.parametrize("backend", ["sqlite"])  # delivery itself is tested on both
def test_the_mail_command_reaches_a_real_smtp_server(
    db: Database, smtp: tuple[Sink, int], tmp_path: Path
) -> None:
    sink, port = smtp
    tid = resolved_case(db, "c1")
    hostile_customer(db)
    config = Settings(
        followup_command=[*MAIL, "--smtp", f"127.0.0.1:{port}"],
        followup_reply_base="https://cx.example.com/v1/followups/",
    )
    assert sweep(db, config, RESOLVED).followups.sent == 1
    (envelope,) = sink.envelopes
    assert envelope.rcpt_tos == ["w@example.cn"]  # the Bcc in the name added no one
    message = message_from_bytes(envelope.content, policy=default)
    with db.session() as session:
        token = session.exec(select(FollowUp.reply_token)).one()
    assert message["X-Cxdesk-Reply-Token"] == token
    assert f"CX-{tid:06d}" in message["Subject"]
    assert "Bcc" not in message and "\x1b" not in str(message["To"])
    body = message.get_content()
    assert f"https://cx.example.com/v1/followups/{token}" in body and "王芳" in body


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_refused_address_fails_the_attempt_with_why(db: Database, tmp_path: Path) -> None:
    resolved_case(db, "c1")
    with db.write() as session:
        session.get_one(Customer, "c1").email = "w@example.cn\nBcc: spy@evil.test"
    config = Settings(
        followup_command=[*MAIL, "--smtp", "127.0.0.1:9"],
        followup_delivery=FollowupDeliveryConfig(max_attempts=1),
    )
    assert sweep(db, config, RESOLVED).followups.failed == 1
    with db.session() as session:
        reason = session.exec(select(FollowUp.reason)).one()
    assert reason is not None
    assert reason.startswith('exit status 2: followup_mail: no usable email address: "w@exa')


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_mail_command_goes_through_sendmail_when_no_server_is_named(
    db: Database, tmp_path: Path
) -> None:
    """The system's sendmail, here a script keeping what it is given."""
    sendmail = tmp_path / "sendmail"
    sendmail.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat > {tmp_path}/mail\n')
    sendmail.chmod(0o755)
    resolved_case(db, "c1")
    config = Settings(followup_command=[*MAIL, "--sendmail", str(sendmail)])
    assert sweep(db, config, RESOLVED).followups.sent == 1
    assert (tmp_path / "args").read_text().split() == ["-t", "-i"]
    message = message_from_bytes((tmp_path / "mail").read_bytes(), policy=default)
    assert [a.addr_spec for a in message["To"].addresses] == ["w@example.cn"]


class Hook(BaseHTTPRequestHandler):
    """A webhook that keeps what is posted, or answers 500 while `failing` is set."""

    posted: list[tuple[str, dict[str, Any]]] = []
    failing = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Hook.failing:
            self.send_response(500)
        else:
            Hook.posted.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
@pytest.mark.parametrize("backend", ["sqlite"])
def test_curl_posts_the_survey_to_a_webhook(db: Database, tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/surveys"
    assert CURL_SAMPLE[-1].startswith("https://")
    config = Settings(followup_command=[*CURL_SAMPLE[:-1], url])
    try:
        tid = resolved_case(db, "c1")
        Hook.failing, Hook.posted = True, []
        assert sweep(db, config, RESOLVED).followups.retrying == 1
        with db.session() as session:
            reason = session.exec(select(FollowUp.reason)).one()
        assert reason is not None and reason.startswith("exit status 22: curl: (22)")
        Hook.failing = False
        assert sweep(db, config, RESOLVED + timedelta(hours=1)).followups.sent == 1
    finally:
        server.shutdown()
    ((kind, survey),) = Hook.posted
    assert kind == "application/json" and survey["ticket"] == f"CX-{tid:06d}"
    assert survey["attempt"] == 2 and survey["customer"]["email"] == "w@example.cn"
