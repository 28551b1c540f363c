"""Rules for new and re-sent transactions: lateness, immutable fields, goods updates."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from asap_sync.domain.errors import (
    CommissionNotPending,
    GoodsUpdateTooLate,
    IllegalParameter,
    ImmutableFieldChanged,
    MerchantMismatch,
    TransactionTooLate,
)
from asap_sync.domain.idempotency import differing_fields
from asap_sync.domain.model import CommissionStatus, SyncCommand, Transaction

FUTURE_TOLERANCE = timedelta(minutes=5)
MERCHANT_FIELDS = ("subMerchantId", "storeId")
IMMUTABLE_FIELDS = (
    "transDirection",
    "originTransId",
    "entityType",
    "entityId",
    "transDate",
    "tradeAmt",
)
IGNORED_ON_RESEND = ("requestId",)


class Resend(enum.Enum):
    """What a sync of an already stored transaction means."""

    IDENTICAL = "identical"
    UPDATE = "update"


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later, clamping the day to the target month's length."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    days = [31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def check_not_in_future(trans_date: datetime, now: datetime) -> None:
    """``transDate`` more than five minutes ahead of the platform clock is illegal."""
    if trans_date - now > FUTURE_TOLERANCE:
        raise IllegalParameter(
            f"transDate: {trans_date.isoformat()} is more than 5 minutes in the future"
        )


def check_not_late(trans_date: datetime, now: datetime, limit_months: int) -> None:
    """A new transaction must arrive within ``limit_months`` of its ``transDate``."""
    deadline = add_months(trans_date, limit_months)
    if now > deadline:
        raise TransactionTooLate(
            f"transDate {trans_date.isoformat()} must be reported within {limit_months} months; "
            f"the deadline was {deadline.isoformat()}"
        )


def classify_resend(existing: Transaction, command: SyncCommand) -> Resend:
    """Compare a re-sent transaction with the stored one (its requestId aside)."""
    old = _without(existing.content, IGNORED_ON_RESEND)
    new = _without(command.content, IGNORED_ON_RESEND)
    fields = differing_fields(old, new)
    if not fields:
        return Resend.IDENTICAL
    top = {f.split(".")[0].split("[")[0] for f in fields}
    merchant = [f for f in MERCHANT_FIELDS if f in top]
    if merchant:
        raise MerchantMismatch(
            f"{', '.join(merchant)} differ from the stored transaction "
            f"{existing.out_trans_id}; the merchant information must match"
        )
    immutable = [f for f in IMMUTABLE_FIELDS if f in top]
    if immutable:
        raise ImmutableFieldChanged(
            f"{', '.join(immutable)}: cannot change on the stored transaction "
            f"{existing.out_trans_id}; report a correction as a refund"
        )
    return Resend.UPDATE


def check_update_allowed(existing: Transaction, now: datetime, goods_window: timedelta) -> None:
    """A goods update needs PENDING commission and must arrive within the goods window."""
    if existing.status is not CommissionStatus.PENDING:
        raise CommissionNotPending(
            f"the commission of {existing.out_trans_id} is {existing.status.value}; "
            "goods information can only change while it is PENDING"
        )
    deadline = existing.trans_date + goods_window
    if now > deadline:
        raise GoodsUpdateTooLate(
            f"goods information for {existing.out_trans_id} had to arrive by "
            f"{deadline.isoformat()} ({goods_window.days} days after transDate)"
        )


def _without(content: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in content.items() if k not in keys}
