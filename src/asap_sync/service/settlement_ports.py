"""The ports of settlement: what closing, assigning, querying and auditing need from storage."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Self

from asap_sync.domain.settlement import (
    PeriodStatus,
    Statement,
    StatementLine,
    TransactionTotals,
)
from asap_sync.service.approval_ports import ApprovalRepository
from asap_sync.service.journal import Journal


@dataclass(frozen=True, kw_only=True, slots=True)
class PeriodInfo:
    """A period as the operator sees it."""

    period: str
    status: PeriodStatus
    statement_count: int = 0
    transaction_count: int = 0
    pending_count: int = 0  # PENDING transactions accepted in this period (carried forward)
    closed_at: datetime | None = None
    assigned_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class MerchantTotals:
    """One merchant's statements over a range of periods, added up."""

    merchant_id: str
    first_period: str
    last_period: str
    statement_count: int
    transaction_count: int
    gross_minor: int
    refunded_minor: int
    commission_e4: int  # exact
    commission_minor: int  # the sum of each statement's rounded total: what is paid


class SettlementRepository(Protocol):
    """Writes of closing and assigning, inside one database transaction."""

    def period_status(self, period: str) -> PeriodStatus: ...

    def unclosed_earlier(self, period: str) -> list[tuple[str, PeriodStatus]]: ...

    def set_period(
        self, period: str, status: PeriodStatus, now: datetime, **extra: Any
    ) -> None: ...

    def period_counts(self, period: str) -> tuple[int, int]: ...

    def merchants_to_close(self, period: str, after: str, limit: int) -> list[str]: ...

    def create_statement(self, period: str, merchant_id: str, now: datetime) -> int | None: ...

    def claim_transactions(
        self, statement_id: int, merchant_id: str, period: str, now: datetime
    ) -> int: ...

    def copy_lines(self, statement_id: int) -> None: ...

    def transaction_totals(self, statement_id: int) -> TransactionTotals: ...

    def stream_lines(self, statement_id: int) -> Iterator[StatementLine]: ...

    def stream_line_records(self, statement_id: int) -> Iterator[list[Any]]: ...

    def seal(self, statement: Statement) -> None: ...

    def statements_to_assign(self, period: str, after: int, limit: int) -> list[int]: ...

    def assign_statement(self, statement_id: int, now: datetime) -> int: ...


class SettlementUnitOfWork(Journal, Protocol):
    """One database transaction: rolled back on exit unless committed."""

    @property
    def approvals(self) -> ApprovalRepository: ...

    @property
    def settlement(self) -> SettlementRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...


class StatementQueries(Protocol):
    """Reads for operators and exports, on one open read-only connection."""

    def periods(self) -> Sequence[PeriodInfo]: ...

    def statements(
        self,
        *,
        period: str | None = None,
        merchant_id: str | None = None,
        first_period: str | None = None,
        last_period: str | None = None,
    ) -> Iterator[Statement]: ...

    def statement(self, statement_id: int) -> Statement | None: ...

    def lines(self, statement_id: int) -> Iterator[StatementLine]: ...

    def merchant_totals(
        self,
        *,
        merchant_id: str | None = None,
        first_period: str | None = None,
        last_period: str | None = None,
    ) -> Sequence[MerchantTotals]: ...
