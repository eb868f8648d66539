"""Every command in every stage, and every role × command × team: pure tables, no database."""

from __future__ import annotations

import pytest

from cxdesk.errors import PermissionDenied, WorkflowError
from cxdesk.models import Stage
from cxdesk.workflow.access.permissions import Actor
from cxdesk.workflow.loop.stages import COMMANDS, next_stage

S = Stage
WORKING = {S.COLLECT, S.ANALYZE, S.FIX}
OPEN = set(S) - {S.CLOSED}
# Written out from the brief, independently of stages.py: command → {from stage: to stage}.
EXPECTED = {
    "claim": {**{s: s for s in OPEN}, S.NEW: S.COLLECT},
    "assign": {**{s: s for s in OPEN}, S.NEW: S.COLLECT},
    "respond": {**{s: s for s in OPEN}, S.NEW: S.COLLECT},
    "note": {s: s for s in S},
    "pend": {s: S.PENDING for s in WORKING},
    "resume": {S.PENDING: S.PENDING},  # the service sends it back where it was paused
    "analyze": {S.COLLECT: S.FIX, S.ANALYZE: S.FIX},
    "resolve": {s: S.VERIFY for s in WORKING},
    "escalate": {s: s for s in OPEN},
    "deescalate": {s: s for s in OPEN},
    "link": {s: s for s in S},
    "unlink": {s: s for s in S},
    "apply": {S.VERIFY: S.VERIFY, S.CLOSED: S.CLOSED},  # a problem that has its resolution
    "verify": {S.VERIFY: S.CLOSED},
    "expire": {S.VERIFY: S.CLOSED},
    "reopen": {S.VERIFY: S.ANALYZE, S.CLOSED: S.ANALYZE},
    "close": {S.FIX: S.CLOSED, S.VERIFY: S.CLOSED},
    "merge": {s: s for s in OPEN},
    "attach": {s: s for s in OPEN},
    "reprioritize": {s: s for s in OPEN},
    "sla": {s: s for s in OPEN},
    "survey": {s: s for s in S},
}


def test_the_table_covers_every_command() -> None:
    assert set(EXPECTED) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(EXPECTED))
@pytest.mark.parametrize("stage", list(S))
def test_every_transition(command: str, stage: Stage) -> None:
    allowed = EXPECTED[command]
    if stage in allowed:
        assert next_stage(command, stage, "CX-000001") is allowed[stage]
    else:
        with pytest.raises(WorkflowError) as refused:
            next_stage(command, stage, "CX-000001")
        message = str(refused.value)
        assert message.startswith(f"cannot {command} CX-000001: it is {stage.value}; ")
        assert all(s.value in message for s in allowed)


AGENT_MAY = {"claim", "respond", "note", "pend", "resume", "analyze", "resolve", "escalate"}
SUPERVISOR_MAY = AGENT_MAY | {
    "assign",
    "deescalate",
    "reopen",
    "close",
    "link",
    "unlink",
    "merge",
    "open_problem",
    "apply",
}
PEOPLE_COMMANDS = sorted(SUPERVISOR_MAY)
ACTORS = {
    "agent": Actor("ann", "agent", frozenset({"care"}), pii=False),
    "supervisor": Actor("sue", "supervisor", frozenset({"care"}), pii=True),
    "admin": Actor("ada", "admin", frozenset(), pii=True),
}


@pytest.mark.parametrize(
    "command", [*PEOPLE_COMMANDS, "verify", "expire", "sla", "survey", "attach"]
)
@pytest.mark.parametrize("role", sorted(ACTORS))
@pytest.mark.parametrize("team", ["care", "vip"])
def test_permission_matrix(role: str, command: str, team: str) -> None:
    actor = ACTORS[role]
    by_role = {"agent": AGENT_MAY, "supervisor": SUPERVISOR_MAY, "admin": set(PEOPLE_COMMANDS)}[
        role
    ]
    allowed = command in by_role and (role == "admin" or team == "care")
    if allowed:
        actor.authorize(command, team, "CX-000001")
    else:
        with pytest.raises(PermissionDenied):
            actor.authorize(command, team, "CX-000001")


def test_automation_may_do_everything_everywhere() -> None:
    for command in COMMANDS:
        Actor.system().authorize(command, "anywhere", "CX-000001")
