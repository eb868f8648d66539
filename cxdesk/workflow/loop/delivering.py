"""The ticket's side of sending follow-up surveys: each outcome the sweep reports (sent,
to be tried again, failed for good, suppressed) recorded on the follow-up, and told on the
timeline when it is final, in the ticket's unit of work like every other change."""

from __future__ import annotations

from sqlmodel import Session, select

from cxdesk.i18n import say
from cxdesk.models import FollowUp, FollowUpStatus, Ticket, TimelineKind
from cxdesk.workflow.basics.backoff import retry_at
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.commands import RecordSurveyDelivery, SuppressSurvey
from cxdesk.workflow.loop.unit import Acting, Work, work_on


def _followup(work: Work, followup_id: int) -> FollowUp | None:
    """The ticket's follow-up, read afresh under the lock (the ticket's is held already)."""
    return work.session.exec(
        select(FollowUp)
        .where(FollowUp.id == followup_id, FollowUp.ticket_id == work.ticket.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def record_survey_delivery(
    acting: Acting, command: RecordSurveyDelivery, session: Session | None
) -> Ticket:
    """Sent: on the timeline. Failed with attempts left: tried again after the backoff, the
    error kept on the follow-up. Failed at the last attempt: `failed`, on the timeline with
    the error. An outcome for a claim another sweep has since taken over (its lease ran out)
    changes nothing; a survey answered or expired while being sent is still told as sent."""
    delivery = acting.settings.followup_delivery
    with work_on(acting, command, session) as work:
        followup = _followup(work, command.followup_id)
        if followup is None or followup.attempts != command.attempt:
            work.unchanged = True
            return work.ticket
        if followup.status != FollowUpStatus.SENDING:  # answered or expired meanwhile
            if command.error is not None or followup.sent_at is not None:
                work.unchanged = True
                return work.ticket
            followup.sent_at = work.at
        elif command.error is None:
            followup.status = FollowUpStatus.SENT
            followup.sent_at = work.at
            followup.next_attempt_at = None
            followup.reason = None
        elif command.attempt < delivery.max_attempts:
            followup.status = FollowUpStatus.SCHEDULED
            followup.next_attempt_at = retry_at(
                work.at, command.attempt, base=delivery.backoff_base, cap=delivery.backoff_cap
            )
            followup.reason = command.error
            work.unchanged = True  # retries are the follow-up's business, not the ticket's
            return work.ticket
        else:
            followup.status = FollowUpStatus.FAILED
            followup.next_attempt_at = None
            followup.reason = command.error
            work.timeline(
                TimelineKind.FOLLOWUP,
                say(
                    "follow-up survey not sent after {attempts} attempts: {error}",
                    attempts=command.attempt,
                    error=command.error,
                ),
            )
            return work.ticket
        work.timeline(
            TimelineKind.FOLLOWUP,
            say("follow-up survey sent (attempt {attempt})", attempt=command.attempt),
            channel=followup.channel,
        )
    return work.ticket


def suppress_survey(acting: Acting, command: SuppressSurvey, session: Session | None) -> Ticket:
    """Not sent: the customer had a survey within the window. The ticket stays in verify: an
    answer that names it still verifies or reopens it, and without one it closes unverified
    when the window ends, as any unanswered survey's ticket does."""
    with work_on(acting, command, session) as work:
        followup = _followup(work, command.followup_id)
        if followup is None or followup.status != FollowUpStatus.SCHEDULED:
            work.unchanged = True  # taken by another sweep, answered or expired meanwhile
            return work.ticket
        message = say(
            "follow-up survey not sent: the customer had one for {ref} at {sent}, within "
            "{days} days",
            ref=ticket_ref(command.after),
            sent=command.sent_at.isoformat(timespec="minutes"),
            days=acting.settings.followup_delivery.suppress_days,
        )
        followup.status = FollowUpStatus.SUPPRESSED
        followup.next_attempt_at = None
        followup.reason = str(message)
        work.timeline(TimelineKind.FOLLOWUP, message, after=command.after)
    return work.ticket
