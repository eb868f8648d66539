"""Hostile input, generated: only clean, named errors; metacharacters stay data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cxdesk.config import Settings, parse_settings
from cxdesk.db import Database
from cxdesk.errors import ConfigError, WorkflowError
from cxdesk.workflow.basics.text import clean_text, original, storable
from cxdesk.workflow.intake.events import FeedbackEventIn, ValidEvent
from cxdesk.workflow.intake.readers import Record, read_csv, read_jsonl
from cxdesk.workflow.intake.validation import describe_validation_error, validate_record
from cxdesk.workflow.ops.schema import upgrade_database
from cxdesk.workflow.reads.queries import Search, TicketFilter, count_tickets, list_tickets

HOSTILE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
SPICE = st.sampled_from(
    [
        "'",
        '"',
        ";",
        "--",
        "%",
        "_",
        "\\",
        "[/]",
        "[@click=app.quit]",
        "\x1b[2J",
        "\u202e",
        "DROP TABLE tickets",
        "\x00",
        "{",
        "}",
        ":",
    ]
)
SPICY_TEXT = st.lists(st.one_of(HOSTILE, SPICE), max_size=8).map("".join)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), SPICY_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "event_id",
                    "kind",
                    "occurred_at",
                    "customer",
                    "id",
                    "nps",
                    "csat",
                    "ces",
                    "comment",
                    "drivers",
                    "ticket_id",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(line=st.one_of(SPICY_TEXT, JSONISH.map(json.dumps)))
def test_any_line_is_an_event_or_a_named_reason(line: str) -> None:
    for record in read_jsonl(io.StringIO(line + "\n")):
        outcome = validate_record(record, "Asia/Shanghai")
        assert isinstance(outcome, ValidEvent) or (isinstance(outcome, str) and outcome)


PLAIN_OR_SPICY = st.one_of(st.text("ab 中文-", max_size=12), SPICY_TEXT)
EVENTISH = st.fixed_dictionaries(
    {
        "event_id": PLAIN_OR_SPICY,
        "kind": st.sampled_from(["survey", "complaint", "followup", "other"]),
        "occurred_at": st.sampled_from(["2026-01-02T03:04:05", "2026-01-02T03:04:05+08:00"]),
        "customer": st.fixed_dictionaries(
            {"id": PLAIN_OR_SPICY}, optional={"name": PLAIN_OR_SPICY, "tier": PLAIN_OR_SPICY}
        ),
    },
    optional={
        "comment": PLAIN_OR_SPICY,
        "drivers": st.lists(PLAIN_OR_SPICY, max_size=3),
        "nps": st.integers(-1, 11),
        "ticket_id": PLAIN_OR_SPICY,
    },
)


def schema_says(raw: str) -> ValidEvent | str:
    try:
        return FeedbackEventIn.model_validate_json(raw).flat("Asia/Shanghai")
    except ValidationError as exc:
        return describe_validation_error(exc)


@settings(max_examples=400, deadline=None)
@given(record=EVENTISH, ascii_only=st.booleans())
def test_validation_takes_no_shortcut_past_the_schema(record: dict, ascii_only: bool) -> None:
    """A record with nothing to clean skips the cleaning; what comes out is the schema's."""
    raw = json.dumps(record, ensure_ascii=ascii_only)
    assert validate_record(Record(1, raw), "Asia/Shanghai") == schema_says(raw)


def test_what_cleaning_changes_is_unprintable() -> None:
    """The shortcut above holds only while this does."""
    changed = [chr(n) for n in range(0x110000) if clean_text(chr(n)) != chr(n)]
    assert "\r" in changed and "\u202e" in changed
    assert not any(c.isprintable() for c in changed)


@settings(max_examples=200, deadline=None)
@given(text=SPICY_TEXT)
def test_any_csv_text_reads_into_records(text: str) -> None:
    header = "event_id,kind,occurred_at,customer_id,nps,comment\n"
    for record in read_csv(io.StringIO(header + text)):
        outcome = validate_record(record, "Asia/Shanghai")
        assert isinstance(outcome, ValidEvent) or (isinstance(outcome, str) and outcome)


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(
        SPICY_TEXT,
        st.sampled_from(
            [
                "timezone = 1",
                "[calendars.x]\nhours = {mon = ['9-18']}",
                "[[rules]]\nname = 1",
                "[policies.default]\nP1 = 3",
                "[queues.q]\nteam = 'care'",
                "verify = []",
                "[metric_alerts]\nqueue = 'nope'",
                "pii_roles = ['root']",
                "notify_command = 'sh'",
            ]
        ),
    )
)
def test_any_config_text_loads_or_names_the_problem(text: str) -> None:
    try:
        assert isinstance(parse_settings(text, "fuzz.toml"), Settings)
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: ")


@pytest.fixture(scope="module")
def filter_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    path = tmp_path_factory.mktemp("fuzz") / "f.db"
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)
    return db


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=SPICY_TEXT)
def test_any_filter_is_data_never_sql(filter_db: Database, text: str) -> None:
    try:
        search = Search.parse(text.replace("\x00", ""))
    except WorkflowError as exc:
        assert "unknown filter" in str(exc)
        return
    with filter_db.session() as session:
        assert list_tickets(session, TicketFilter(search=search)) == []
        assert count_tickets(session, TicketFilter(search=search)) == 0


def test_oversize_records_name_the_limit(tmp_path: Path) -> None:
    from cxdesk.workflow.intake.readers import MAX_RECORD_CHARS

    huge = json.dumps({"event_id": "x", "comment": "长" * (MAX_RECORD_CHARS + 10)})
    (record,) = list(read_jsonl(io.StringIO(huge + "\n" + "\n")))
    assert record.error == f"record longer than the limit of {MAX_RECORD_CHARS} characters"


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(["\x00", "␀", "0", "a", "\n"]), max_size=30))
def test_stored_text_holds_no_nul_and_reads_back_as_it_came(text: str) -> None:
    assert "\x00" not in storable(text)
    assert original(storable(text)) == text
