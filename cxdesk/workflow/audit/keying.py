"""Keying a database's audit chain: its key file made, and the row from which the chain is
keyed (`KEY_ACTION`) written, counting what existed before it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session

from cxdesk.db import Database
from cxdesk.errors import DatabaseError
from cxdesk.models import AuditEntry, Ticket, TimelineEntry
from cxdesk.models.base import table_of
from cxdesk.workflow.audit.chain import KEY_ACTION, KEY_ACTOR, agents_snapshot, append_audit

_audit_log = table_of(AuditEntry)
_timeline = table_of(TimelineEntry)
_tickets = table_of(Ticket)
_MARK = sa.select(_audit_log.c.id).where(_audit_log.c.action == KEY_ACTION).limit(1)


def key_the_chain(db: Database) -> bool:
    """Give a database without an audit key one, and mark in its chain the row from which it
    is keyed (recording the last timeline entry written before: later ones are covered).
    A chain already keyed whose key file is missing is an error: a new key would hide it.

    A key file with no mark in the chain keys a new database's chain (made anew under an old
    one's name: no audit rows, tickets or timeline entries yet) from then on: otherwise each
    row written with it would fail `verify`. A chain that holds rows but no mark is an error
    naming the file, never marked anew: rows may have been removed from the mark on.
    """
    key_file = db.audit_key
    if key_file is None or (key_file.exists() and _marked(db)):
        return False  # keyed: no write lock taken
    created = False
    try:
        with db.write() as session:
            connection = session.connection()
            is_marked = connection.execute(_MARK).first() is not None
            if key_file.exists():
                if is_marked:
                    return False
                if not _empty(connection):
                    raise DatabaseError(
                        f"{key_file.path} is an audit key, but this database's audit chain "
                        "has no mark of being keyed from it: rows were removed from the "
                        "chain, or the database was made anew under an old one's name (then "
                        "move that file away, keeping it while a backup of the old database "
                        "may be restored)"
                    )
            elif is_marked:
                key_file.key()  # raises, naming the file: a keyed chain without its key
            else:
                try:
                    key_file.create()
                except FileExistsError:  # another process keyed it a moment ago
                    return False
                created = True
            _mark_keying(session)
    except BaseException:
        if created:
            key_file.remove()
        raise
    return created


def _empty(connection: sa.Connection) -> bool:
    """No audit rows, tickets or timeline entries: nothing a new mark could vouch for."""
    tables = (_audit_log, _tickets, _timeline)
    return all(connection.execute(sa.select(t.c.id).limit(1)).first() is None for t in tables)


def _mark_keying(session: Session) -> None:
    """The chain's row from which it is keyed, counting what existed before: not digested,
    but counted, so that nothing is slipped in among it (`verify` and `verify --deep`
    compare the counts)."""
    connection = session.connection()
    last_entry = sa.select(sa.func.max(_timeline.c.id), sa.func.count())
    before, entries = connection.execute(last_entry).one()
    last_ticket = sa.select(sa.func.max(_tickets.c.id), sa.func.count())
    tickets_upto, tickets = connection.execute(last_ticket).one()
    append_audit(
        session,
        at=datetime.now(UTC),
        actor=KEY_ACTOR,
        action=KEY_ACTION,
        ticket_id=None,
        detail={
            "timeline_after": before or 0,
            "timeline_count": entries,
            "tickets_upto": tickets_upto or 0,
            "tickets_count": tickets,
            "agents": agents_snapshot(connection),
        },
    )


def _marked(db: Database) -> bool:
    with db.session() as session:
        return session.connection().execute(_MARK).first() is not None
