"""The django-helpdesk half of benchmarks/compare.py; run by the Python of a throwaway venv.

    python helpdesk_side.py WORKDIR --tickets N --rounds R

A minimal Django project (settings in code, SQLite file in WORKDIR with the same pragmas as
cxdesk: WAL, synchronous=NORMAL), migrated; then N tickets created through the ORM each with
its opening follow-up (what django-helpdesk's ticket form writes), one transaction per ticket
and then N more in one transaction; then the open queue's first page (open, unassigned,
newest first, 100 rows with their queue) read R times. Prints JSON. Imports nothing of cxdesk.
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
    from django.core.management import call_command
    from django.db import transaction
    from helpdesk.models import FollowUp, Queue, Ticket

    call_command("migrate", verbosity=0)
    queue = Queue.objects.create(title="After-sales", slug="aftersales")

    def create(n: int) -> None:
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

    started = time.perf_counter()
    for n in range(args.tickets):
        with transaction.atomic():
            create(n)
    each = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        for n in range(args.tickets, 2 * args.tickets):
            create(n)
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
    assert len(rows) == 100 and rows[0][0] == 2 * args.tickets
    json.dump(
        {
            "versions": {
                "django": django.get_version(),
                "django_helpdesk": _version("django-helpdesk"),
                "python": sys.version.split()[0],
            },
            "create_each_per_s": round(args.tickets / each),
            "create_batch_per_s": round(args.tickets / batch),
            "list_first_page_median_ms": round(statistics.median(samples) * 1000, 2),
        },
        sys.stdout,
    )


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
