"""The ticket screen's side panels: the customer's card with the ticket's links, and the
resolution as coded."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from cxdesk.i18n import N_, Translator
from cxdesk.screens.format import plain
from cxdesk.workflow.reads.detail import TicketDetail

RESOLUTION_LABELS = {  # the resolution panel's rows, by TicketDetail.resolution key
    "code": N_("code"),
    "root_cause": N_("root cause"),
    "driver": N_("driver"),
    "action_taken": N_("action taken"),
    "customer_remedy": N_("customer remedy"),
    "verify": N_("verify"),
    "reopened": N_("reopened"),
}


def customer_panel(detail: TicketDetail, t: Translator) -> Table | Text:
    """The customer's card, and the ticket's links."""
    customer = detail.customer
    if customer is None:
        return Text(t("no customer (problem ticket)"), style="dim")
    table = _field_table()
    for label, value in (
        (N_("id"), customer.id),
        (N_("name"), customer.name),
        (N_("tier"), customer.tier),
        (N_("phone"), customer.phone),
        (N_("email"), customer.email),
        (N_("feedback"), customer.feedback_count),
        (N_("tickets"), customer.ticket_count),
    ):
        table.add_row(Text(t(label), style="dim"), plain(value or "—"))
    if detail.links:
        label = N_("cases") if detail.row.kind == "problem" else N_("problem")
        table.add_row(Text(t(label), style="dim"), plain(", ".join(detail.links)))
    return table


def resolution_panel(detail: TicketDetail, t: Translator) -> Table:
    """The resolution's fields, the verification and the reopen count."""
    table = _field_table()
    for label, value in (
        *detail.resolution.items(),
        ("verify", detail.verify_outcome),
        ("reopened", detail.reopen_count or None),
    ):
        shown = t(RESOLUTION_LABELS.get(label, label.replace("_", " ")))
        table.add_row(Text(shown, style="dim"), plain(value or "—"))
    if detail.row.kind == "problem" and detail.links:
        table.add_row(Text(t("cases"), style="dim"), plain(", ".join(detail.links)))
    return table


def _field_table() -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(no_wrap=True, width=12)
    table.add_column(ratio=1)
    return table
