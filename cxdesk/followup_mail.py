"""`python -m cxdesk.followup_mail`: a `followup_command` that mails each survey.

It reads the survey cxdesk writes on standard input and sends it to the customer's email
address, through the system's `sendmail` (`sendmail -t -i`, the message on its standard
input) or, with `--smtp HOST[:PORT]`, straight to a mail server. Customer text never
becomes a header of its own: the address must be one plain `local@domain` with nothing
else in it, the name is stripped of control characters, and the message is built by the
standard library's email package under its SMTP policy, which refuses any header holding
a line break. Exit status 0 when the message was handed over; 2 with one line on standard
error when it cannot be (no usable address, a mail server or sendmail saying no), which is
what cxdesk records as the attempt's error.

    followup_command = ["python3", "-m", "cxdesk.followup_mail",
                        "--from", "CX team <cx@example.com>"]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import smtplib
import subprocess
import sys
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr
from typing import Any

from cxdesk.output import say

# One address and nothing else: no display name, comment, route, list or quoted local part.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_TEXT_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_REF = re.compile(r"CX-\d{1,12}")
MAX_TEXT = 10_000  # characters of the survey's text mailed
SUBJECT = "回访 / How did we do? ({ticket})"


class Refused(Exception):
    """The survey cannot be mailed: said on standard error, exit status 2."""


def _address(value: Any) -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise Refused(f"no usable email address: {json.dumps(value, ensure_ascii=True)[:120]}")
    return value


def _mailbox(value: str, what: str) -> Address:
    """`Name <a@b>` or `a@b`, as an option gives the sender."""
    name, address = parseaddr(value)
    if _CONTROLS.search(value) or not _ADDRESS.fullmatch(address):
        raise Refused(f"{what}: not one plain address: {value!r}")
    return Address(display_name=name, addr_spec=address)


def build_message(survey: dict[str, Any], sender: str) -> EmailMessage:
    """The survey as an RFC 5322 message to its customer."""
    customer = survey.get("customer") or {}
    to = _address(customer.get("email"))
    name = customer.get("name")
    name = name if isinstance(name, str) else ""
    ticket = survey.get("ticket")
    if not isinstance(ticket, str) or not _REF.fullmatch(ticket):
        raise Refused(f"no ticket reference in the survey: {str(ticket)[:40]!r}")
    text = survey.get("text")
    if not isinstance(text, str) or not text.strip():
        raise Refused("no survey text")
    body = _TEXT_CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))[:MAX_TEXT]
    reply = survey.get("reply_url")
    if isinstance(reply, str) and not _CONTROLS.search(reply):
        body += f"\n\n{reply}"
    message = EmailMessage(policy=SMTP)
    message["From"] = _mailbox(sender, "--from")
    message["To"] = Address(display_name=_CONTROLS.sub("", name)[:200], addr_spec=to)
    message["Subject"] = SUBJECT.format(ticket=ticket)
    token = survey.get("reply_token")
    if isinstance(token, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token):
        message["X-Cxdesk-Reply-Token"] = token
    message.set_content(body + "\n")
    return message


def send(message: EmailMessage, smtp: str | None, sendmail: str | None) -> None:
    """Hand the message to a mail server (`smtp`, HOST[:PORT]) or to sendmail."""
    if smtp:
        host, _, port = smtp.rpartition(":") if ":" in smtp else (smtp, "", "25")
        try:
            with smtplib.SMTP(host, int(port), timeout=20) as server:
                server.send_message(message)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            raise Refused(f"mail server {smtp}: {exc}") from None
        return
    program = sendmail or shutil.which("sendmail") or shutil.which("/usr/sbin/sendmail")
    if program is None:
        raise Refused("no sendmail found; give --sendmail PATH or --smtp HOST[:PORT]")
    try:
        done = subprocess.run(
            [program, "-t", "-i"],
            input=message.as_bytes(policy=message.policy.clone(linesep="\n")),  # a local file's
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise Refused(f"{program}: {exc}") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()[-300:]
        raise Refused(f"{program} exit status {done.returncode}: {said}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cxdesk.followup_mail",
        description="Mail the follow-up survey read (as cxdesk writes it) on standard input.",
    )
    parser.add_argument("--from", dest="sender", required=True, help="the sender, Name <a@b>")
    route = parser.add_mutually_exclusive_group()
    route.add_argument("--smtp", metavar="HOST[:PORT]", help="a mail server instead of sendmail")
    route.add_argument("--sendmail", metavar="PATH", help="sendmail (default: from PATH)")
    options = parser.parse_args(argv)
    try:
        try:
            survey = json.loads(sys.stdin.buffer.read())
        except ValueError as exc:
            raise Refused(f"standard input is not a survey as JSON: {exc}") from None
        if not isinstance(survey, dict):
            raise Refused("standard input is not a survey as JSON: not an object")
        send(build_message(survey, options.sender), options.smtp, options.sendmail)
    except Refused as exc:
        say(f"followup_mail: {exc}", err=True)  # made inert, like everything cxdesk prints
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
