"""Follow-up delivery's pure parts: the backoff, the suppression verdict, the error line,
the command runner and the sample mail command's message, against hostile input."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxdesk.config import parse_settings
from cxdesk.config.followups import FollowupDeliveryConfig, reply_url
from cxdesk.errors import ConfigError
from cxdesk.followup_mail import Refused, build_message
from cxdesk.workflow.basics.backoff import retry_at
from cxdesk.workflow.basics.text import one_line
from cxdesk.workflow.loop.followup_claims import Earlier, judge
from cxdesk.workflow.loop.followup_delivery import ERROR_CHARS, run_survey_command

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
spans = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=30))


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    minutes = [(retry_at(NOW, n) - NOW) / timedelta(minutes=1) for n in range(1, 12)]
    assert minutes == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]
    assert retry_at(NOW, 0) == retry_at(NOW, -5) == NOW + timedelta(minutes=1)


@given(instants, st.integers(min_value=-3, max_value=10**9), spans, spans)
def test_backoff_is_bounded_monotonic_and_deterministic(
    now: datetime, attempts: int, base: timedelta, cap: timedelta
) -> None:
    at = retry_at(now, attempts, base=base, cap=cap)
    assert at == retry_at(now, attempts, base=base, cap=cap)
    assert now + min(base, cap) <= at <= now + cap
    assert retry_at(now, attempts + 1, base=base, cap=cap) >= at
    doublings = max(attempts, 1) - 1
    microsecond = timedelta(microseconds=1)
    exact = (base // microsecond) << min(doublings, 64)  # in whole microseconds: no overflow
    if doublings < 64 and exact <= cap // microsecond:  # below the cap: exactly base · 2^n
        assert at - now == exact * microsecond


earlier = st.builds(
    Earlier,
    followup_id=st.integers(1, 50),
    ticket_id=st.integers(1, 50),
    status=st.sampled_from(["scheduled", "sending", "sent", "answered", "expired", "failed"]),
    sent_at=st.none() | st.builds(lambda d: NOW - d, st.timedeltas(timedelta(0), timedelta(30))),
)


@given(st.lists(earlier, max_size=6), st.integers(0, 20))
def test_one_survey_per_customer_per_window(others: list[Earlier], days: int) -> None:
    window = timedelta(days=days)
    verdict = judge(NOW, window, others)
    recent = [o for o in others if o.sent_at is not None and o.sent_at > NOW - window]
    if days == 0:
        assert verdict.action == "send"
    elif recent:
        assert verdict.action == "suppress" and verdict.by in recent
        assert verdict.by.sent_at == max(o.sent_at for o in recent if o.sent_at)
    elif any(o.status == "sending" for o in others):
        assert verdict.action == "wait"
    else:
        assert verdict.action == "send"


def test_a_survey_sent_exactly_a_window_ago_no_longer_suppresses() -> None:
    sent = Earlier(1, 1, "sent", NOW - timedelta(days=7))
    assert judge(NOW, timedelta(days=7), [sent]).action == "send"
    assert judge(NOW - timedelta(seconds=1), timedelta(days=7), [sent]).action == "suppress"


@given(st.text(max_size=3000), st.integers(1, 600))
def test_an_error_line_is_clean_one_line_and_bounded(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert len(line) <= limit and "\n" not in line and "\r" not in line
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_command_reads_the_survey_and_exit_zero_is_success(tmp_path) -> None:
    out = tmp_path / "got.json"
    code = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    assert run_survey_command(_python(code), {"ticket": "CX-000001"}, timedelta(seconds=30)) is None
    assert json.loads(out.read_text()) == {"ticket": "CX-000001"}


def test_a_failure_keeps_the_end_of_stderr_cleaned_and_bounded() -> None:
    code = "import sys; sys.stderr.write('x' * 100000 + '\\x1b[2J\\x00bad\\r\\nthing'); sys.exit(3)"
    error = run_survey_command(_python(code), {}, timedelta(seconds=30))
    assert error is not None and error.startswith("exit status 3: ")
    assert error.endswith("bad thing") and len(error) <= ERROR_CHARS
    assert "\x1b" not in error and "\x00" not in error


def test_a_missing_program_and_a_timeout_are_failures_too() -> None:
    missing = run_survey_command(["/nonexistent/sender"], {}, timedelta(seconds=5))
    assert missing is not None and missing.startswith("cannot run /nonexistent/sender")
    # The child never reads its input and sleeps past the timeout: killed, with its group.
    hung = run_survey_command(
        _python("import time; time.sleep(60)"), {"x": "y" * 200_000}, timedelta(seconds=1)
    )
    assert hung is not None and hung.startswith("no answer from ")


def test_the_delivery_settings_are_checked() -> None:
    settings = parse_settings(
        'followup_command = ["sender", "--flag"]\n'
        'followup_reply_base = "https://cx.example.com/v1/followups/"\n'
        "[followup_delivery]\nsuppress_days = 3\nmax_attempts = 2\ntimeout = 10\n"
    )
    assert settings.followup_command == ["sender", "--flag"]
    assert settings.followup_delivery.timeout == timedelta(seconds=10)
    assert reply_url(settings.followup_reply_base or "", "tok") == (
        "https://cx.example.com/v1/followups/tok"
    )
    for bad, where in (
        ("followup_command = []", "followup_command"),
        ('followup_command = ["a\\u0000b"]', "NUL"),
        ('followup_reply_base = "javascript:alert(1)"', "followup_reply_base"),
        ('followup_reply_base = "https://x/\\u001b[2J"', "control"),
        ('[followup_delivery]\nbackoff_base = "2h"\nbackoff_cap = "1h"', "backoff_cap"),
        ("[followup_delivery]\nmax_attempts = 0", "max_attempts"),
    ):
        with pytest.raises(ConfigError, match=where):
            parse_settings(bad)


SURVEY = {
    "ticket": "CX-000042",
    "customer": {"id": "c1", "name": "王芳", "email": "wang@example.cn"},
    "text": "请打分 / Please rate us",
    "reply_url": "https://cx.example.com/v1/followups/tok",
    "reply_token": "tok",
}


@given(
    name=st.text(max_size=300) | st.sampled_from(["x\r\nBcc: spy@evil.test", "\x00\x1b]2;x\x07"]),
    email=st.text(max_size=80)
    | st.sampled_from(["a@b.cn\r\nBcc: spy@evil.test", "a@b.cn,spy@evil.test", "<a@b.cn>"]),
    text=st.text(min_size=1, max_size=20_000),
)
def test_no_customer_text_becomes_a_header_of_its_own(name: str, email: str, text: str) -> None:
    survey = {**SURVEY, "customer": {"name": name, "email": email}, "text": text}
    try:
        message = build_message(survey, "CX <cx@example.com>")
    except Refused:
        return
    parsed = message_from_bytes(message.as_bytes(), policy=default)
    assert [a.addr_spec for a in parsed["To"].addresses] == [email]
    assert set(parsed.keys()) <= {
        "From",
        "To",
        "Subject",
        "X-Cxdesk-Reply-Token",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    }
    body = parsed.get_content()
    assert "\x00" not in body and "\x1b" not in body and len(body) < 20_200


def test_a_hostile_address_is_refused_not_mailed() -> None:
    for email in ("a@b.cn\r\nBcc: spy@evil.test", "x", None, "a@b.cn spy@evil.test"):
        with pytest.raises(Refused, match="no usable email address"):
            build_message({**SURVEY, "customer": {"email": email}}, "cx@example.com")
    with pytest.raises(Refused, match="--from"):
        build_message(SURVEY, "cx@example.com\r\nBcc: spy@evil.test")


def test_the_readmes_delivery_settings_are_valid() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Follow-up delivery") :].split("\n## ")[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    for block in blocks:
        settings = parse_settings(textwrap.dedent(block), "README")
        assert settings.followup_command
    assert parse_settings(blocks[0]).followup_delivery == FollowupDeliveryConfig()  # defaults
