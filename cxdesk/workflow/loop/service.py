"""The service layer's one door: every change to a ticket, whoever asks (TUI, CLI, ingest,
sweep), is a command (`loop.commands`) handed to `TicketService.handle`, which runs its
handler in the unit of work (`loop.unit`).

Handlers are plain functions grouped by family: opening and alerts, claiming and
assignment, replies and notes, stage moves, escalation, verification, problems and links.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, overload

from sqlmodel import Session, col, select

from cxdesk.errors import CxdeskError
from cxdesk.models import Ticket
from cxdesk.output import sanitize
from cxdesk.workflow.loop import (
    claiming,
    delivering,
    escalation,
    moves,
    opening,
    problem_apply,
    problem_opening,
    problem_scope,
    problem_verify,
    problems,
    replies,
    verifying,
)
from cxdesk.workflow.loop.batch import BATCH, Batch
from cxdesk.workflow.loop.commands import (
    AttachAlert,
    EscalateBreach,
    ExpireFollowup,
    LinkCases,
    MarkAtRisk,
    OpenTicket,
    RecordFollowupAnswer,
    RecordSurveyDelivery,
    SuppressSurvey,
    TicketCommand,
    VerifyProblem,
)
from cxdesk.workflow.loop.desk_commands import (
    Analyze,
    ApplyProblemResolution,
    Assign,
    Claim,
    ClaimNext,
    CloseProblem,
    Deescalate,
    Escalate,
    Link,
    Merge,
    Note,
    OpenProblem,
    Pend,
    Reopen,
    Resolve,
    Respond,
    Resume,
    Unlink,
)
from cxdesk.workflow.loop.problem_apply import Applied
from cxdesk.workflow.loop.unit import SYSTEM_ACTOR, Acting

__all__ = ["HANDLERS", "SYSTEM_ACTOR", "TicketService"]

log = logging.getLogger(__name__)
Command = TicketCommand | ClaimNext | OpenTicket | OpenProblem

HANDLERS: dict[type[Any], Callable[[Acting, Any, Session | None], Any]] = {
    OpenTicket: opening.open_ticket,
    AttachAlert: opening.attach_alert,
    Claim: claiming.claim,
    ClaimNext: claiming.claim_next,
    Assign: claiming.assign,
    Respond: replies.respond,
    Note: replies.note,
    Pend: moves.pend,
    Resume: moves.resume,
    Analyze: moves.analyze,
    Resolve: moves.resolve,
    Reopen: moves.reopen,
    Escalate: escalation.escalate,
    Deescalate: escalation.deescalate,
    MarkAtRisk: escalation.mark_at_risk,
    EscalateBreach: escalation.escalate_breach,
    RecordFollowupAnswer: verifying.record_followup_answer,
    ExpireFollowup: verifying.expire_followup,
    RecordSurveyDelivery: delivering.record_survey_delivery,
    SuppressSurvey: delivering.suppress_survey,
    Link: problems.link,
    Unlink: problems.unlink,
    LinkCases: problem_scope.link_cases,
    OpenProblem: problem_opening.open_problem,
    VerifyProblem: problem_verify.verify_problem,
    ApplyProblemResolution: problem_apply.apply_problem_resolution,
    CloseProblem: problems.close_problem,
    Merge: problems.merge,
}


@dataclass(frozen=True)
class Outcome:
    """What became of one ticket's command in `handle_each`: done, or refused and why."""

    ticket_id: int
    refused: CxdeskError | None = None


class TicketService(Acting):
    """Ticket commands on behalf of one actor (a login, or `cxdesk` for automation)."""

    @overload
    def handle(  # type: ignore[overload-overlap]  # the clocks' commands say if they acted
        self, command: MarkAtRisk | EscalateBreach, session: Session | None = None
    ) -> bool: ...
    @overload
    def handle(  # type: ignore[overload-overlap]  # it says what it did to each case
        self, command: ApplyProblemResolution, session: Session | None = None
    ) -> Applied: ...
    @overload
    def handle(self, command: Command, session: Session | None = None) -> Ticket: ...
    def handle(self, command: Command, session: Session | None = None) -> Ticket | bool | Applied:
        """Run `command` in `session` (the caller's transaction: ingest, a batch) or in a
        write transaction of its own; its notifications reach the hook once whichever
        transaction it ran in commits."""
        handler = HANDLERS[type(command)]
        name, ticket = type(command).__name__, getattr(command, "ticket_id", None)
        try:
            result: Ticket | bool | Applied = handler(self, command, session)
        except CxdeskError as exc:  # refused: said to the person; logged for the unattended
            log.info("%s %s by %s refused: %s", name, ticket, self.actor, sanitize(str(exc)))
            raise
        log.debug("%s %s by %s", name, ticket, self.actor)
        return result

    def handle_each(self, commands: Iterable[TicketCommand]) -> list[Outcome]:
        """Each command on its own ticket, in a transaction of its own and with its own
        checks: a refusal (a ticket moved on, another team's, a stage that does not allow
        it) is told beside its ticket and neither stops nor undoes the others."""
        outcomes = []
        for command in commands:
            try:
                self.handle(command)
            except CxdeskError as exc:
                outcomes.append(Outcome(command.ticket_id, exc))
            else:
                outcomes.append(Outcome(command.ticket_id))
        return outcomes

    @contextmanager
    def batch(self, tickets: Iterable[int]) -> Iterator[Batch]:
        """A write transaction for commands on these tickets: one commit (on SQLite, one taking
        of the write lock) instead of one per ticket; their notifications reach the hook
        once it commits.

        On PostgreSQL the tickets' rows are locked first, in id order: from its first command
        to its commit the batch holds the audit chain's lock, which a single command takes
        after its ticket's row, so a row taken after that lock could deadlock with one."""
        ids = sorted(set(tickets))
        with self.db.write() as session:
            if ids and not self.db.is_sqlite:
                session.exec(
                    select(Ticket.id)
                    .where(col(Ticket.id).in_(ids))
                    .order_by(col(Ticket.id))
                    .with_for_update()
                ).all()
            batch = session.info[BATCH] = Batch(session)
            try:
                yield batch
            finally:
                del session.info[BATCH]
