"""Who changes what, and the one way a change reaches the activity log.

A use case opens its unit of work from sessions bound to an :class:`Actor` and calls
:meth:`Journal.note` for each change; the storage writes the entry in the same transaction as
the change (see :mod:`asap_sync.storage.activity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class UnattributedChange(RuntimeError):
    """A use case tried to change data through a unit of work opened without an actor."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One change to the platform: who made it, from where, what it was, before and after."""

    at: datetime
    actor: str
    source: str  # "console" or "cli"
    action: str  # e.g. "client.add", "period.close"
    subject: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Actor:
    """Who is making changes, from where, and when."""

    name: str
    source: str  # "console" or "cli"
    at: datetime
    signed_in: bool = True  # False: the CLI's OS user, not an operator account with a password

    def change(
        self,
        action: str,
        subject: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> Change:
        """The activity-log entry of one change made by this actor."""
        return Change(
            at=self.at,
            actor=self.name,
            source=self.source,
            action=action,
            subject=subject,
            before=before,
            after=after,
        )


class Journal(Protocol):
    """What every writing unit of work offers: log a change in the change's own transaction."""

    def note(
        self,
        action: str,
        subject: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Write the activity entry of a change of this unit (its actor, its time)."""
