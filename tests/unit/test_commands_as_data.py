"""The commands as data, without a database: each declared once, read back from what a person
typed, dispatched to a handler, allowed somewhere by the stage machine, and rendered for the
CLI from the same declaration."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import click
import pytest

from cxdesk.errors import NotFound
from cxdesk.workflow.loop.commands import TicketCommand
from cxdesk.workflow.loop.desk_commands import (
    BY_NAME,
    DESK_COMMANDS,
    RESOLUTION_CODES,
    Analyze,
    Link,
    Note,
    Resolve,
    command_from_values,
)
from cxdesk.workflow.loop.opening import opening_record
from cxdesk.workflow.loop.service import HANDLERS
from cxdesk.workflow.loop.stages import COMMANDS as STAGE_RULES

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def no_template(name: str) -> str:
    raise AssertionError(f"no template should be read, asked for {name!r}")


@pytest.mark.parametrize("kind", DESK_COMMANDS, ids=lambda k: k.NAME)
def test_each_desk_command_is_declared_handled_and_staged(kind: type[TicketCommand]) -> None:
    fields = {f.name for f in dataclasses.fields(kind)}
    assert {i.name for i in kind.INPUTS} <= fields, "an input that is not a field"
    assert kind in HANDLERS and kind.NAME in STAGE_RULES
    assert kind.TITLE and kind.VERB and kind.__doc__
    assert BY_NAME[kind.NAME] is kind


def test_values_as_typed_become_the_command() -> None:
    link = command_from_values(
        Link, 7, {"problem_id": "cx-000042"}, version=3, at=AT, fill_template=no_template
    )
    assert link == Link(7, 42, version=3, at=AT)
    analyze = command_from_values(
        Analyze,
        7,
        {"root_cause": "late van", "driver": "late_delivery", "touchpoint": ""},
        version=None,
        at=AT,
        fill_template=no_template,
    )
    assert analyze.touchpoint is None  # left empty: not given
    empty = command_from_values(Analyze, 7, {}, version=None, at=AT, fill_template=no_template)
    assert (empty.root_cause, empty.driver) == ("", "")  # the handler says what is missing
    with pytest.raises(NotFound, match="not a ticket id"):
        command_from_values(
            Link, 7, {"problem_id": "nope"}, version=None, at=AT, fill_template=no_template
        )


def test_a_message_is_typed_or_filled_from_a_template() -> None:
    typed = command_from_values(
        Note,
        7,
        {"message": "called", "template": None},
        version=None,
        at=AT,
        fill_template=no_template,
    )
    assert typed.body == "called"
    filled = command_from_values(
        Note,
        7,
        {"message": "", "template": "sorry"},
        version=None,
        at=AT,
        fill_template=lambda name: f"text of {name}",
    )
    assert filled.body == "text of sorry"


def test_resolution_codes_are_offered_as_a_choice_on_the_cli() -> None:
    from cxdesk.cli.ticket import ticket

    resolve = ticket.get_command(click.Context(ticket), Resolve.NAME)
    assert resolve is not None
    code = next(p for p in resolve.params if p.name == "code")
    assert isinstance(code.type, click.Choice)
    assert tuple(code.type.choices) == RESOLUTION_CODES


@pytest.mark.parametrize("kind", DESK_COMMANDS, ids=lambda k: k.NAME)
def test_the_cli_verb_takes_the_declared_inputs(kind: type[TicketCommand]) -> None:
    from cxdesk.cli.ticket import ticket

    verb = ticket.get_command(click.Context(ticket), kind.NAME)
    assert verb is not None and verb.help == kind.__doc__
    names = {p.name for p in verb.params}
    for spec in kind.INPUTS:
        expected = {"message", "template"} if spec.kind == "message" else {spec.name}
        assert expected <= names, f"{kind.NAME}: {spec.name}"


def test_an_opening_writes_its_entries_and_one_audit_detail() -> None:
    record = opening_record(
        queue_id="aftersales",
        mode="skills",
        priority="P2",
        rule="detractor",
        event_id="e1",
        assignee="ann",
        evidence=("NPS fell", {"metric": "nps"}),
    )
    assert [e.kind for e in record.entries] == ["alert", "assignment", "alert"]
    assert record.entries[0].event_id == "e1" and record.entries[1].event_id is None
    assert record.detail["assignee"] == "ann"
    assert record.detail["state"]["assignee"] == "ann"
    by_hand = opening_record(
        queue_id="aftersales",
        mode="manual",
        priority="P3",
        rule=None,
        event_id=None,
        assignee=None,
    )
    assert [e.kind for e in by_hand.entries] == ["transition"]
