"""The closed vocabularies stored in string columns.

Values are stored as plain strings (not database enums) so that adding a value
never needs an ALTER TYPE on PostgreSQL.
"""

from __future__ import annotations

from enum import StrEnum


class TicketKind(StrEnum):
    CASE = "case"
    PROBLEM = "problem"


class Stage(StrEnum):
    NEW = "new"
    COLLECT = "collect"
    ANALYZE = "analyze"
    FIX = "fix"
    PENDING = "pending"
    VERIFY = "verify"
    CLOSED = "closed"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    INGEST = "ingest"  # a feed's account: ingests and reads the quarantine, works no tickets


class AssignmentMode(StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    SKILLS = "skills"


class EventKind(StrEnum):
    SURVEY = "survey"
    COMPLAINT = "complaint"
    REVIEW = "review"
    FOLLOWUP = "followup"


class TimelineKind(StrEnum):
    ALERT = "alert"
    NOTE = "note"
    RESPONSE = "response"
    TRANSITION = "transition"
    ASSIGNMENT = "assignment"
    ESCALATION = "escalation"
    FOLLOWUP = "followup"
    LINK = "link"
    PRIORITY = "priority"


class VerifyOutcome(StrEnum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    FAILED = "failed"
    MERGED = "merged"


class FollowUpStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its (next) delivery attempt, or for an export
    SENDING = "sending"  # claimed by a sweep running the follow-up command
    SENT = "sent"
    FAILED = "failed"  # every delivery attempt failed
    SUPPRESSED = "suppressed"  # not sent: the customer had a survey within the window
    ANSWERED = "answered"
    EXPIRED = "expired"
