"""The audit chain's digest format: existing chains must verify under any faster encoding."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from cxdesk.workflow.audit.chain import entry_digest

_details = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.datetimes(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])


@given(
    previous=st.text(),
    at=st.datetimes(timezones=_zones),
    actor=st.text(),
    action=st.text(),
    ticket_id=st.none() | st.integers(),
    detail=st.dictionaries(st.text(), _details, max_size=5),
)
def test_digest_is_sha256_of_the_documented_json(
    previous: str,
    at: datetime,
    actor: str,
    action: str,
    ticket_id: int | None,
    detail: dict,
) -> None:
    payload = json.dumps(
        [previous, at.astimezone(UTC).isoformat(), actor, action, ticket_id, detail],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    expected = hashlib.sha256(payload.encode()).hexdigest()
    assert entry_digest(previous, at, actor, action, ticket_id, detail) == expected
