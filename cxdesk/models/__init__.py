"""The database tables (SQLModel). Tables only: behaviour lives in cxdesk.workflow."""

from cxdesk.models.audit import AuditEntry, QuarantinedRecord
from cxdesk.models.enums import (
    AssignmentMode,
    EventKind,
    FollowUpStatus,
    Priority,
    Role,
    Stage,
    TicketKind,
    TimelineKind,
    VerifyOutcome,
)
from cxdesk.models.feedback import Customer, FeedbackEvent, FeedbackRollup
from cxdesk.models.org import (
    Agent,
    AgentTeam,
    Meta,
    Notification,
    Queue,
    ReplyTemplate,
    SavedView,
    Team,
)
from cxdesk.models.problems import ProblemScope
from cxdesk.models.tickets import FollowUp, Ticket, TicketLink, TimelineEntry
from cxdesk.models.webhooks import WebhookDelivery

__all__ = [
    "Agent",
    "AgentTeam",
    "AssignmentMode",
    "AuditEntry",
    "Customer",
    "EventKind",
    "FeedbackEvent",
    "FeedbackRollup",
    "FollowUp",
    "FollowUpStatus",
    "Meta",
    "Notification",
    "Priority",
    "ProblemScope",
    "QuarantinedRecord",
    "Queue",
    "ReplyTemplate",
    "Role",
    "SavedView",
    "Stage",
    "Team",
    "Ticket",
    "TicketKind",
    "TicketLink",
    "TimelineEntry",
    "TimelineKind",
    "VerifyOutcome",
    "WebhookDelivery",
]
