"""The ticket reads in one import: lists and filters (`tickets`), free-text search (`search`),
one ticket's detail (`detail`), and the interrupter that stops a read no longer wanted
(`interrupt`)."""

from cxdesk.workflow.reads.detail import (
    CustomerCard,
    TicketDetail,
    TimelineItem,
    read_ticket_detail,
    ticket_detail,
)
from cxdesk.workflow.reads.interrupt import Interrupter
from cxdesk.workflow.reads.search import FILTER_KEYS, Search
from cxdesk.workflow.reads.tickets import (
    Sort,
    TicketFilter,
    TicketRow,
    View,
    count_tickets,
    default_sort,
    list_open_problems,
    list_tickets,
    read_counted_page,
    read_ticket_count,
    read_ticket_page,
)

__all__ = [
    "FILTER_KEYS",
    "CustomerCard",
    "Interrupter",
    "Search",
    "Sort",
    "TicketDetail",
    "TicketFilter",
    "TicketRow",
    "TimelineItem",
    "View",
    "count_tickets",
    "default_sort",
    "list_open_problems",
    "list_tickets",
    "read_counted_page",
    "read_ticket_count",
    "read_ticket_detail",
    "read_ticket_page",
    "ticket_detail",
]
