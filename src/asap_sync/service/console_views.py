"""What the console reads beyond the operator use cases: searches, details and day counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from asap_sync.domain.settlement import Statement
from asap_sync.service.settlement_ports import PeriodInfo


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionSearch:
    """Filters of the transaction search; pages go backwards from ``before_id``."""

    request_id: str | None = None
    out_trans_id: str | None = None
    origin_trans_id: str | None = None
    merchant_id: str | None = None
    client_id: str | None = None
    direction: str | None = None
    status: str | None = None
    period: str | None = None
    accepted_from: datetime | None = None
    accepted_to: datetime | None = None
    before_id: int | None = None
    limit: int = 50


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionRow:
    """One transaction as listed and shown."""

    transaction_id: int
    merchant_id: str
    out_trans_id: str
    client_id: str
    direction: str
    status: str
    period: str
    amount_minor: int
    trans_date: datetime
    accepted_at: datetime
    updated_at: datetime
    revision: int
    contract_id: str | None
    origin_id: int | None
    statement_id: int | None
    raw_request_id: int
    content: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RawRequest:
    """The signed request as received, kept to re-prove the transaction."""

    raw_request_id: int
    client_id: str
    key_version: int
    method: str
    path: str
    request_time: str
    signature: str
    headers: str
    body: bytes
    received_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class CommissionLineRow:
    """A commission line with the rule snapshot it was computed with."""

    line_id: int
    line_no: int
    contract_id: str
    rule_kind: str
    rule_value: int
    base_minor: int
    commission_e4: int
    goods_index: int | None
    goods_code: str | None
    reverses_line_id: int | None
    created_at: datetime
    superseded_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionDetail:
    """Everything about one transaction: raw request, lines, its origin, refunds, statement."""

    transaction: TransactionRow
    raw_request: RawRequest | None
    lines: Sequence[CommissionLineRow]
    origin: TransactionRow | None
    refunds: Sequence[TransactionRow]
    statement: Statement | None


@dataclass(frozen=True, kw_only=True, slots=True)
class DayCount:
    """A count on one day (UTC), optionally for one result code."""

    day: str
    count: int
    code: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class RejectionGroup:
    """Rejections of one code from one client and source on one day: a flood is one row."""

    day: str
    code: str
    client_id: str | None
    source: str | None
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class RejectionSearch:
    """Filters of the rejection view."""

    code: str | None = None
    client_id: str | None = None
    source: str | None = None
    since: datetime
    until: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class MerchantMonth:
    """A merchant's sealed commission for one period."""

    merchant_id: str
    period: str
    commission_minor: int


class ConsoleQueries(Protocol):
    """The console's reads, on one read-only connection."""

    def accepted_between(self, start: datetime, end: datetime) -> int: ...

    def accepted_per_day(self, days: Sequence[date]) -> list[int]: ...

    def rejections_per_day(self, days: Sequence[date]) -> dict[str, list[int]]: ...

    def accepted_by_period(self, first: date | None) -> dict[str, int]: ...

    def first_day(self) -> date | None: ...

    def pending_in(self, period: str) -> int: ...

    def periods(self) -> Sequence[PeriodInfo]: ...

    def commission_by_merchant_month(self, first_period: str) -> Sequence[MerchantMonth]: ...

    def search_transactions(self, search: TransactionSearch) -> Sequence[TransactionRow]: ...

    def transaction_detail(self, transaction_id: int) -> TransactionDetail | None: ...

    def rejection_groups(self, search: RejectionSearch) -> Sequence[RejectionGroup]: ...

    def periods_awaiting(self) -> Sequence[tuple[str, str]]: ...

    def client_key_pem(self, client_id: str, key_version: int) -> str | None: ...
