"""What the console's use cases read and write: operators, the activity log, audit runs."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Self

from asap_sync.service.admin_ports import AdminError
from asap_sync.service.journal import Actor, Change, Journal, UnattributedChange

__all__ = [
    "Actor",
    "AuditRun",
    "Change",
    "ChangeFilter",
    "Journal",
    "LoggedChange",
    "OperatorError",
    "OperatorRecord",
    "OperatorRepository",
    "OperatorSessions",
    "OperatorUnitOfWork",
    "Role",
    "UnattributedChange",
]


class Role(enum.StrEnum):
    """What an operator may do: a viewer reads, finance settles, an admin manages."""

    VIEWER = "viewer"
    FINANCE = "finance"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """True when this role includes everything ``needed`` may do."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.VIEWER: 0, Role.FINANCE: 1, Role.ADMIN: 2}


class OperatorError(AdminError):
    """An operator account request that cannot be done as asked."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OperatorRecord:
    """A console account (never its password hash)."""

    name: str
    role: Role
    status: str
    session_epoch: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class LoggedChange:
    """A change as the activity log holds it."""

    activity_id: int
    change: Change


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeFilter:
    """Which changes to list, newest first, in pages keyed on the activity id."""

    actor: str | None = None
    action: str | None = None
    before_id: int | None = None
    limit: int = 50


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditRun:
    """One audit run started from the console, with its summary and findings as JSON."""

    audit_run_id: int
    started_at: datetime
    finished_at: datetime
    actor: str
    ok: bool
    violation_count: int
    transactions: int
    statements: int
    report: dict[str, Any]


class OperatorRepository(Protocol):
    """Operators, the activity log and audit runs, inside one database transaction."""

    def get(self, name: str) -> tuple[OperatorRecord, str] | None:
        """The operator and its password hash."""

    def add(self, record: OperatorRecord, password_hash: str) -> None: ...

    def update(
        self,
        name: str,
        *,
        now: datetime,
        status: str | None = None,
        password_hash: str | None = None,
        bump_epoch: bool = False,
    ) -> None: ...

    def list(self) -> Sequence[OperatorRecord]: ...

    def changes(self, which: ChangeFilter) -> Sequence[LoggedChange]: ...

    def add_audit_run(self, run: AuditRun) -> int: ...

    def audit_runs(self, limit: int) -> Sequence[AuditRun]: ...

    def audit_run(self, audit_run_id: int) -> AuditRun | None: ...


class OperatorUnitOfWork(Journal, Protocol):
    """One database transaction: rolled back unless committed."""

    @property
    def operators(self) -> OperatorRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...


class OperatorSessions(Protocol):
    """Opens units of work; read-only ones never block the server's writers."""

    def __call__(self, *, read_only: bool = False) -> OperatorUnitOfWork: ...

    def acting(self, actor: Actor) -> OperatorSessions:
        """The same sessions, whose units log their changes under ``actor``."""
