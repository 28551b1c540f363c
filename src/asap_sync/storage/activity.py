"""The activity log's one writer: an entry is inserted on the connection of the change it logs.

Every unit of work (admin, operators, settlement, approvals) writes its entries through
:func:`append_change` inside its own transaction, so a change and its entry commit or roll
back together: there is no path that commits a change first and logs it afterwards.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from asap_sync.service.journal import Change
from asap_sync.storage.tables import activity_log

SUBJECT_LENGTH = 256


def to_json(value: dict[str, Any] | None) -> str | None:
    """A before/after dict as stable JSON (keys sorted), or None."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    """Times as ISO 8601, enumerations by value, anything else as its text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.days
    return getattr(value, "value", str(value))


def from_json(text: str | None) -> dict[str, Any] | None:
    """The dict :func:`to_json` wrote."""
    return None if text is None else dict(json.loads(text))


def append_change(conn: Connection, change: Change) -> None:
    """Insert one activity entry in the connection's open transaction."""
    conn.execute(
        insert(activity_log).values(
            at=change.at,
            actor=change.actor,
            source=change.source,
            action=change.action,
            subject=change.subject[:SUBJECT_LENGTH],
            before=to_json(change.before),
            after=to_json(change.after),
        )
    )
