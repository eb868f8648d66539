"""Bringing a database's schema to the code's, and keying its audit chain at head."""

from __future__ import annotations

from cxdesk.db import Database
from cxdesk.workflow.audit.keying import key_the_chain


def upgrade_database(db: Database, revision: str = "head", *, key_chain: bool = True) -> bool:
    """Migrate to `revision`; at head (unless `key_chain` is False, as for a copy's target,
    which takes the source's key) a database without an audit key is given one and its chain
    is keyed from then on. True when a key was made."""
    db.upgrade(revision)
    if not key_chain or revision != "head":
        return False
    return key_the_chain(db)
