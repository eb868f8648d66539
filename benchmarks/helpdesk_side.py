"""The django-helpdesk half of benchmarks/compare.py; run by the Python of a throwaway venv.

    python helpdesk_side.py WORKDIR --tickets N --rounds R

A minimal Django project (settings in code, SQLite file in WORKDIR with the same pragmas as
cxdesk: WAL, synchronous=NORMAL), migrated; then N tickets created through the ORM each with
its opening follow-up (what django-helpdesk's ticket form writes), one transaction per ticket
and then N more in one transaction; then the open queue's first page (open, unassigned,
newest first, 100 rows with their queue) read R times; then each ticket assigned, commented
and resolved as its ticket view does it (the ticket read and saved, a `FollowUp` per step, a
`TicketChange` for the owner and the status), one transaction per step for the first N and
one transaction for the other N. Prints JSON. Imports nothing of cxdesk.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def configure(workdir: Path) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark",
        USE_TZ=True,
        TIME_ZONE="Asia/Shanghai",
        SITE_ID=1,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.sites",
            "django.contrib.humanize",
            "django.contrib.messages",
            "django.contrib.admin",
            "rest_framework",
            "helpdesk",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(workdir / "helpdesk.db"),
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
            }
        },
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        HELPDESK_TEAMS_MODE_ENABLED=False,  # otherwise its migrations need pinax-teams
    )
    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    configure(args.workdir)

    import django
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone
    from helpdesk.models import FollowUp, Queue, Ticket, TicketChange

    call_command("migrate", verbosity=0)
    queue = Queue.objects.create(title="After-sales", slug="aftersales")
    agent = get_user_model().objects.create_user("bench.agent", "agent@example.com", "-")

    def create(n: int) -> Ticket:
        ticket = Ticket.objects.create(
            title=f"Customer {n}: the parcel came three days late",
            queue=queue,
            submitter_email=f"user{n}@example.com",
            description="快递晚了三天，没有任何通知。",
            priority=2,
        )
        FollowUp.objects.create(
            ticket=ticket, title="Ticket Opened", comment=ticket.description, public=True
        )
        return ticket

    started = time.perf_counter()
    each_ids = []
    for n in range(args.tickets):
        with transaction.atomic():
            each_ids.append(create(n).id)
    each = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        batch_ids = [create(n).id for n in range(args.tickets, 2 * args.tickets)]
    batch = time.perf_counter() - started

    def first_page() -> list[tuple]:
        page = (
            Ticket.objects.select_related("queue")
            .filter(queue=queue, status__in=Ticket.OPEN_STATUSES, assigned_to__isnull=True)
            .order_by("-created", "-id")[:100]
        )
        return [(t.id, t.title, t.queue.slug, t.priority, t.created) for t in page]

    samples = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        rows = first_page()
        samples.append(time.perf_counter() - started)
    assert len(rows) == 100 and rows[0][0] == batch_ids[-1]

    def assign(ticket_id: int) -> None:
        ticket = Ticket.objects.select_for_update().get(id=ticket_id)
        before, ticket.assigned_to = ticket.assigned_to, agent
        ticket.save()
        follow_up = FollowUp.objects.create(
            ticket=ticket, title=f"Assigned to {agent.username}", date=timezone.now(), user=agent
        )
        TicketChange.objects.create(
            followup=follow_up, field="Owner", old_value=str(before), new_value=agent.username
        )

    def comment(ticket_id: int) -> None:
        ticket = Ticket.objects.select_for_update().get(id=ticket_id)
        ticket.save()  # its `modified` time
        FollowUp.objects.create(
            ticket=ticket,
            title="Comment",
            comment="您好，非常抱歉，我们已收到您的反馈，正在为您处理。",
            public=True,
            date=timezone.now(),
            user=agent,
        )

    def resolve(ticket_id: int) -> None:
        ticket = Ticket.objects.select_for_update().get(id=ticket_id)
        before = ticket.status
        ticket.status = Ticket.RESOLVED_STATUS
        ticket.resolution = "the carrier's hub was overloaded: apologised and refunded"
        ticket.save()
        follow_up = FollowUp.objects.create(
            ticket=ticket,
            title="Resolved",
            comment=ticket.resolution,
            public=True,
            date=timezone.now(),
            user=agent,
            new_status=Ticket.RESOLVED_STATUS,
        )
        TicketChange.objects.create(
            followup=follow_up,
            field="Status",
            old_value=str(before),
            new_value=str(Ticket.RESOLVED_STATUS),
        )

    started = time.perf_counter()
    for ticket_id in each_ids:
        for step in (assign, comment, resolve):
            with transaction.atomic():
                step(ticket_id)
    cycle_each = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        for ticket_id in batch_ids:
            for step in (assign, comment, resolve):
                step(ticket_id)
    cycle_batch = time.perf_counter() - started
    resolved = Ticket.objects.filter(status=Ticket.RESOLVED_STATUS).count()
    assert resolved == 2 * args.tickets, f"{resolved} of {2 * args.tickets} resolved"
    json.dump(
        {
            "versions": {
                "django": django.get_version(),
                "django_helpdesk": _version("django-helpdesk"),
                "python": sys.version.split()[0],
            },
            "create_each_per_s": round(args.tickets / each),
            "create_batch_per_s": round(args.tickets / batch),
            "cycle_each_per_s": round(args.tickets / cycle_each),
            "cycle_batch_per_s": round(args.tickets / cycle_batch),
            "list_first_page_median_ms": round(statistics.median(samples) * 1000, 2),
        },
        sys.stdout,
    )


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
