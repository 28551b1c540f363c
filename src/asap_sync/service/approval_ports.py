"""What two-person approval reads and writes: server settings and proposals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from asap_sync.service.journal import Actor, Journal

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
STATUSES = (PENDING, APPROVED, REJECTED, WITHDRAWN)

TWO_PERSON_APPROVAL = "two_person_approval"  # the setting's name; "on" or "off"


@dataclass(frozen=True, kw_only=True, slots=True)
class Proposal:
    """A change one operator proposed; it takes effect only when another approves it."""

    proposal_id: int
    action: str  # "contract.add", "contract.end", "period.close"
    subject: str
    payload: dict[str, Any]
    status: str
    proposed_by: str
    proposed_source: str
    proposed_at: datetime
    decided_by: str | None = None
    decided_source: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


class ApprovalRepository(Protocol):
    """Settings and proposals, inside one database transaction."""

    def setting(self, name: str) -> str | None: ...

    def set_setting(self, name: str, value: str, *, actor: Actor) -> None: ...

    def add_proposal(
        self, action: str, subject: str, payload: dict[str, Any], *, actor: Actor
    ) -> int: ...

    def proposal(self, proposal_id: int, *, for_update: bool = False) -> Proposal | None: ...

    def proposals(self, *, status: str | None, limit: int) -> Sequence[Proposal]: ...

    def decide(self, proposal_id: int, status: str, *, actor: Actor, note: str | None) -> None: ...


class ApprovalUnit(Journal, Protocol):
    """A unit of work that reaches proposals (admin and settlement units both do)."""

    @property
    def approvals(self) -> ApprovalRepository: ...
