"""Masking customer contact details for roles that may not see them."""

from __future__ import annotations

MAX_VISIBLE_DIGITS = 4


def mask_phone(phone: str | None) -> str | None:
    """13812340000 → *******0000: at most four digits stay visible, and never more than half
    of them, so a short number cannot be guessed from what is left. Separators stay."""
    if not phone:
        return phone
    digits = sum(ch.isdigit() for ch in phone)
    keep = min(MAX_VISIBLE_DIGITS, digits // 2)
    seen, out = 0, []
    for ch in phone:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - keep else "*")
        else:  # letters may spell digits (vanity numbers, "ext"): masked too
            out.append("*" if ch.isalnum() else ch)
    return "".join(out)


def mask_email(email: str | None) -> str | None:
    """chen.wei@example.com → c***@example.com."""
    if not email:
        return email
    local, at, domain = email.rpartition("@")  # the domain follows the last @
    return f"{local[:1]}***@{domain}" if at else f"{email[:1]}***"
