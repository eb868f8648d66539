"""Reply templates (the knowledge base): placeholders filled from the ticket and customer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from cxdesk.errors import NotFound, PermissionDenied, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import Agent, Customer, ReplyTemplate, Ticket
from cxdesk.workflow.access.permissions import Actor
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.text import clean_text

PLACEHOLDER = re.compile(r"\{([a-z]+)\.([a-z_]+)\}")
FIELDS = {
    "customer": ("id", "name", "tier"),
    "ticket": ("id", "title", "priority", "stage", "queue"),
    "agent": ("login", "name"),
}
DEFAULT_TEMPLATES = {
    "apology": (
        "First response — apology",
        "您好{customer.name}，非常抱歉给您带来不便。您的问题（{ticket.id}）已由{agent.name}"
        "负责跟进，我们会尽快给您答复。\nHello {customer.name}, we are sorry for the "
        "trouble. {agent.name} is handling {ticket.id} and will get back to you shortly.",
    ),
    "refund": (
        "Refund issued",
        "您好{customer.name}，关于{ticket.id}，退款已提交，预计 1–3 个工作日到账。\n"
        "Hello {customer.name}, the refund for {ticket.id} is on its way (1–3 working "
        "days).",
    ),
    "waiting": (
        "Waiting for the customer",
        "您好{customer.name}，为了继续处理{ticket.id}，请您提供订单截图或照片。\n"
        "To continue with {ticket.id}, could you send us a photo or a screenshot?",
    ),
}


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    title: str
    body: str


def check_placeholders(body: str) -> None:
    """Refuse a template naming a placeholder that cannot be filled."""
    for kind, name in PLACEHOLDER.findall(body):
        if name not in FIELDS.get(kind, ()):
            known = ", ".join(f"{{{k}.{f}}}" for k, fs in FIELDS.items() for f in fs)
            raise WorkflowError(
                say(
                    "unknown placeholder {placeholder}; known: {known}",
                    placeholder=f"{{{kind}.{name}}}",
                    known=known,
                )
            )


def save_template(
    session: Session, by: Actor, *, name: str, title: str, body: str, at: datetime
) -> None:
    if not by.may("assign"):
        raise PermissionDenied(
            say(
                "{login} ({role}) may not edit templates; supervisors and admins may",
                login=by.login,
                role=by.role,
            )
        )
    name, body = name.strip(), clean_text(body)
    if not re.fullmatch(r"[\w.-]{1,64}", name):
        raise WorkflowError(
            say("template name {name}: use up to 64 letters, digits, . _ -", name=repr(name))
        )
    if not body.strip():
        raise WorkflowError(say("template body is required"))
    check_placeholders(body)
    row = session.get(ReplyTemplate, name) or ReplyTemplate(
        name=name, body=body, updated_at=at, updated_by=by.login
    )
    row.title, row.body, row.updated_at, row.updated_by = clean_text(title), body, at, by.login
    session.add(row)


def seed_templates(session: Session, at: datetime) -> None:
    for name, (title, body) in DEFAULT_TEMPLATES.items():
        if session.get(ReplyTemplate, name) is None:
            session.add(
                ReplyTemplate(name=name, title=title, body=body, updated_at=at, updated_by="cxdesk")
            )


def find_templates(session: Session, text: str | None = None) -> list[TemplateInfo]:
    """Templates whose name, title or body contain `text` (any language), by name."""
    statement = select(ReplyTemplate).order_by(col(ReplyTemplate.name))
    if text:
        pattern = f"%{text.replace('%', '').replace('_', '')}%"
        statement = statement.where(
            or_(
                col(ReplyTemplate.name).ilike(pattern),
                col(ReplyTemplate.title).ilike(pattern),
                col(ReplyTemplate.body).ilike(pattern),
            )
        )
    return [TemplateInfo(t.name, t.title, t.body) for t in session.exec(statement)]


def render_template(session: Session, name: str, ticket_id: int, actor: str) -> str:
    """The template's text for this ticket, its customer and the acting agent."""
    template = session.get(ReplyTemplate, name)
    if template is None:
        raise NotFound(say("no template {name} (see `cxdesk template list`)", name=repr(name)))
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(say("no ticket {ref}", ref=ticket_ref(ticket_id)))
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    agent = session.get(Agent, actor)
    values = {
        ("customer", "id"): ticket.customer_id or "",
        ("customer", "name"): (customer.name if customer else None) or "",
        ("customer", "tier"): (customer.tier if customer else None) or "",
        ("ticket", "id"): ticket_ref(ticket_id),
        ("ticket", "title"): ticket.title,
        ("ticket", "priority"): ticket.priority,
        ("ticket", "stage"): ticket.stage,
        ("ticket", "queue"): ticket.queue_id,
        ("agent", "login"): actor,
        ("agent", "name"): agent.display_name if agent else actor,
    }
    return PLACEHOLDER.sub(
        lambda m: values.get((m.group(1), m.group(2)), m.group(0)), template.body
    )
