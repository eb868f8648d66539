"""Masking customer contact details for roles that may not see them."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """13812340000 → 138****0000; short numbers keep only their last two digits."""
    if not phone:
        return phone
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 0) + phone[-2:]


def mask_email(email: str | None) -> str | None:
    """chen.wei@example.com → c***@example.com."""
    if not email:
        return email
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else f"{email[:1]}***"
