"""The ticket state machine as plain data: which command is allowed in which stage."""

from __future__ import annotations

from dataclasses import dataclass

from cxdesk.errors import UnusableTicket, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import Stage

OPEN_STAGES = frozenset(Stage) - {Stage.CLOSED}
WORKING_STAGES = frozenset({Stage.COLLECT, Stage.ANALYZE, Stage.FIX})


@dataclass(frozen=True)
class Rule:
    allowed_from: frozenset[Stage]
    moves_to: Stage | None = None  # None: the stage does not change
    from_new_to: Stage | None = None  # a different target when starting from `new`


COMMANDS: dict[str, Rule] = {
    "claim": Rule(OPEN_STAGES, from_new_to=Stage.COLLECT),
    "assign": Rule(OPEN_STAGES, from_new_to=Stage.COLLECT),
    "respond": Rule(OPEN_STAGES, from_new_to=Stage.COLLECT),
    "note": Rule(frozenset(Stage)),
    "pend": Rule(WORKING_STAGES, Stage.PENDING),
    "resume": Rule(frozenset({Stage.PENDING})),  # back to the stage it was paused from
    "analyze": Rule(frozenset({Stage.COLLECT, Stage.ANALYZE}), Stage.FIX),
    "resolve": Rule(WORKING_STAGES, Stage.VERIFY),
    "escalate": Rule(OPEN_STAGES),
    "deescalate": Rule(OPEN_STAGES),
    "link": Rule(frozenset(Stage)),  # closed cases still explain a problem
    "unlink": Rule(frozenset(Stage)),
    "apply": Rule(frozenset({Stage.VERIFY, Stage.CLOSED})),  # a problem with its resolution
    "verify": Rule(frozenset({Stage.VERIFY}), Stage.CLOSED),
    "expire": Rule(frozenset({Stage.VERIFY}), Stage.CLOSED),
    "reopen": Rule(frozenset({Stage.VERIFY, Stage.CLOSED}), Stage.ANALYZE),
    "close": Rule(frozenset({Stage.FIX, Stage.VERIFY}), Stage.CLOSED),
    "attach": Rule(OPEN_STAGES),
    "reprioritize": Rule(OPEN_STAGES),
    "merge": Rule(OPEN_STAGES),
    "sla": Rule(OPEN_STAGES),  # the sweep's at-risk and breach marks
    # The sweep's record of a follow-up survey sent, failed or suppressed: told in whatever
    # stage the ticket has reached meanwhile, since the survey went (or did not) regardless.
    "survey": Rule(frozenset(Stage)),
}

_ORDER = list(Stage)
_KNOWN = frozenset(Stage)


def next_stage(command: str, stage: str, ref: str) -> Stage:
    """The stage after `command`, or a WorkflowError naming the stages that allow it."""
    rule = COMMANDS[command]
    current = known_stage(stage, ref)
    if current not in rule.allowed_from:
        allowed = ", ".join(s.value for s in _ORDER if s in rule.allowed_from)
        raise WorkflowError(
            say(
                "cannot {command} {ref}: it is {stage}; {command} is allowed in: {allowed}",
                command=command,
                ref=ref,
                stage=current.value,
                allowed=allowed,
            )
        )
    if current is Stage.NEW and rule.from_new_to is not None:
        return rule.from_new_to
    return rule.moves_to or current


def known_stage(stage: str, ref: str) -> Stage:
    """`stage` as a Stage, or an error naming the ticket when it holds one this version does
    not know (written outside cxdesk, or by a newer version)."""
    if stage not in _KNOWN:
        raise UnusableTicket(
            say("{ref} is at an unknown stage {stage}", ref=ref, stage=repr(stage))
        )
    return Stage(stage)


def resume_stage(paused_from: str, ref: str) -> Stage:
    """Where a pending ticket resumes: the stage it was paused from, which only a stage that
    may pend can be (a stored `closed` would skip resolution and verification)."""
    stage = known_stage(paused_from, ref)
    if stage not in COMMANDS["pend"].allowed_from:
        raise UnusableTicket(
            say(
                "{ref} was paused from {stage}, which never pends; it cannot resume",
                ref=ref,
                stage=stage.value,
            )
        )
    return stage


def allowed_commands(stage: str) -> list[str]:
    """The commands allowed in `stage`; none in a stage this version does not know."""
    if stage not in _KNOWN:
        return []
    current = Stage(stage)
    return [name for name, rule in COMMANDS.items() if current in rule.allowed_from]
