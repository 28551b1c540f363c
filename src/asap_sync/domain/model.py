"""Values of the domain: syncs, transactions, contracts and commission lines."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Direction = Literal["pay", "refund"]
RuleKind = Literal["rate", "fixed"]

DEFAULT_GOODS_WINDOW = timedelta(days=30)
DEFAULT_AMOUNT_THRESHOLD_MINOR = 200_000  # 2000 HKD


class CommissionStatus(enum.StrEnum):
    """Where a transaction's commission stands in settlement."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    ASSIGNED = "ASSIGNED"


@dataclass(frozen=True, kw_only=True, slots=True)
class Goods:
    """One goods item of a sync."""

    code: str
    price_minor: int
    goods_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncCommand:
    """A parsed, checked externalInfoSync request from one client.

    ``content`` is the normalised business content (wire names, absent fields dropped,
    ``transDate`` as a UTC instant) used for every comparison.
    """

    client_id: str
    request_id: str
    merchant_id: str
    out_trans_id: str
    direction: Direction
    trans_date: datetime
    sub_merchant_id: str | None = None
    store_id: str | None = None
    origin_trans_id: str | None = None
    trade_amount_minor: int | None = None
    goods: tuple[Goods, ...] = ()
    content: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    """How commission is earned on one goods code: a rate in basis points or a fixed amount."""

    kind: RuleKind
    value: int  # basis points for "rate", minor units per item for "fixed"


@dataclass(frozen=True, kw_only=True, slots=True)
class Contract:
    """A merchant's CPS contract, valid over ``[valid_from, valid_to)``."""

    contract_id: str
    merchant_id: str
    valid_from: datetime
    valid_to: datetime | None
    rules: Mapping[str, Rule]
    default_rate_bp: int = 0
    goods_window: timedelta | None = None
    amount_threshold_minor: int | None = None

    def covers(self, moment: datetime) -> bool:
        """True when ``moment`` lies in the validity period."""
        return self.valid_from <= moment and (self.valid_to is None or moment < self.valid_to)

    @property
    def effective_goods_window(self) -> timedelta:
        """The goods window of this contract, or the platform default."""
        return self.goods_window if self.goods_window is not None else DEFAULT_GOODS_WINDOW

    @property
    def effective_threshold_minor(self) -> int:
        """The amount threshold of this contract, or the platform default."""
        if self.amount_threshold_minor is not None:
            return self.amount_threshold_minor
        return DEFAULT_AMOUNT_THRESHOLD_MINOR


@dataclass(frozen=True, kw_only=True, slots=True)
class LineDraft:
    """A commission line before it is stored, with the snapshot of what produced it."""

    line_no: int
    contract_id: str
    rule_kind: str  # "rate" | "fixed" | "default" | "reversal"
    rule_value: int
    base_minor: int
    commission_e4: int
    goods_index: int | None = None
    goods_code: str | None = None
    reverses_line_id: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredLine:
    """A commission line as stored: its id and its earned (or reversed) amount."""

    line_id: int
    line_no: int
    contract_id: str
    rule_kind: str
    rule_value: int
    base_minor: int
    commission_e4: int
    goods_index: int | None = None
    goods_code: str | None = None
    reverses_line_id: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Transaction:
    """An accepted transaction, identified by (merchant_id, out_trans_id)."""

    transaction_id: int
    merchant_id: str
    out_trans_id: str
    direction: Direction
    trans_date: datetime
    amount_minor: int
    status: CommissionStatus
    content: Mapping[str, Any]
    contract_id: str | None = None
    origin_id: int | None = None
    sub_merchant_id: str | None = None
    store_id: str | None = None
