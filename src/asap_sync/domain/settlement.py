"""Settlement: periods, sealed statements and the invariants of SPEC §5, over plain values.

A statement's content hash is SHA-256 over a canonical serialisation: one compact JSON array
per line (fields in :data:`LINE_FIELDS` order, lines ordered by transaction then line number),
each followed by a line feed, then the header object (sorted keys) and a final line feed. It is
computed incrementally so a statement of a million lines is sealed in bounded memory.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asap_sync.domain.money import E4_PER_MINOR, round_e4_to_minor

HASH_FORMAT = "asap-sync-statement/1"
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodStatus(enum.StrEnum):
    """Where a settlement period stands; a period without a row is OPEN."""

    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    ASSIGNED = "ASSIGNED"


class StatementStatus(enum.StrEnum):
    """A statement is produced CLOSED (its transactions PROCESSING), then ASSIGNED."""

    CLOSED = "CLOSED"
    ASSIGNED = "ASSIGNED"


class SettlementRefused(Exception):
    """An operator asked for a close or an assign that the rules forbid; says what to do."""


class InvalidPeriod(SettlementRefused):
    """Not a ``YYYY-MM`` month."""


class PeriodStillRunning(SettlementRefused):
    """The current month needs an explicit flag to be closed."""


class PeriodInFuture(SettlementRefused):
    """A month that has not started cannot be closed."""


class EarlierPeriodUnclosed(SettlementRefused):
    """Periods close in order: an earlier one still holds PENDING commission or is half closed."""


class PeriodNotClosed(SettlementRefused):
    """Only a closed period can be assigned."""


def parse_period(text: str) -> str:
    """Check a ``YYYY-MM`` period and return it."""
    if not _PERIOD.match(text):
        raise InvalidPeriod(f"period {text!r}: must be a month written YYYY-MM, e.g. 2026-11")
    return text


def next_period(period: str) -> str:
    """The month after ``period``."""
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def check_close_allowed(
    *,
    period: str,
    current: str,
    allow_open_month: bool,
    unclosed_earlier: Sequence[tuple[str, PeriodStatus]],
) -> None:
    """Periods close in order, never in the future, and the running month only on request."""
    if period > current:
        raise PeriodInFuture(f"period {period} has not started (the current month is {current})")
    if period == current and not allow_open_month:
        raise PeriodStillRunning(
            f"period {period} is the current month and still receives transactions: "
            "pass --allow-open-month to close it anyway (later arrivals go to the next close)"
        )
    if unclosed_earlier:
        earliest, status = unclosed_earlier[0]
        action = "re-run its close" if status is PeriodStatus.CLOSING else "close it first"
        raise EarlierPeriodUnclosed(
            f"period {earliest} is {status.value} and holds PENDING commission: {action}"
        )


def check_assign_allowed(*, period: str, status: PeriodStatus) -> None:
    """Assigning needs a CLOSED (or already ASSIGNED) period."""
    if status not in (PeriodStatus.CLOSED, PeriodStatus.ASSIGNED):
        raise PeriodNotClosed(f"period {period} is {status.value}: close it before assigning it")


@dataclass(frozen=True, kw_only=True, slots=True)
class StatementLine:
    """One commission line of a statement, with the transaction and the rule that produced it."""

    line_id: int
    transaction_id: int
    out_trans_id: str
    direction: str
    trans_date: datetime
    accepted_period: str
    transaction_amount_minor: int
    origin_out_trans_id: str | None
    line_no: int
    contract_id: str
    rule_kind: str
    rule_value: int
    base_minor: int
    commission_e4: int
    goods_index: int | None
    goods_code: str | None
    reverses_line_id: int | None
    reverses_statement_id: int | None


LINE_FIELDS = tuple(StatementLine.__dataclass_fields__)
COMMISSION_INDEX = LINE_FIELDS.index("commission_e4")
TRANS_DATE_INDEX = LINE_FIELDS.index("trans_date")


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionTotals:
    """What a statement's transactions add up to."""

    transaction_count: int = 0
    pay_count: int = 0
    refund_count: int = 0
    gross_minor: int = 0  # sum of the pays
    refunded_minor: int = 0  # sum of the refunds

    @property
    def net_minor(self) -> int:
        """Pays less refunds."""
        return self.gross_minor - self.refunded_minor


@dataclass(frozen=True, kw_only=True, slots=True)
class Statement:
    """A merchant's statement for one period: the sealed totals and their hash."""

    statement_id: int
    period: str
    merchant_id: str
    totals: TransactionTotals
    line_count: int
    commission_e4: int
    status: StatementStatus = StatementStatus.CLOSED
    content_hash: str = ""
    created_at: datetime | None = None
    assigned_at: datetime | None = None

    @property
    def commission_minor(self) -> int:
        """The total, rounded once, half up, to the minor unit."""
        return round_e4_to_minor(self.commission_e4)


def header_record(statement: Statement) -> dict[str, Any]:
    """The statement fields the hash covers (status and timestamps change; these never do)."""
    t = statement.totals
    return {
        "format": HASH_FORMAT,
        "statementId": statement.statement_id,
        "period": statement.period,
        "merchantId": statement.merchant_id,
        "transactionCount": t.transaction_count,
        "payCount": t.pay_count,
        "refundCount": t.refund_count,
        "grossMinor": t.gross_minor,
        "refundedMinor": t.refunded_minor,
        "lineCount": statement.line_count,
        "commissionE4": statement.commission_e4,
        "commissionMinor": statement.commission_minor,
    }


def line_record(line: StatementLine) -> list[Any]:
    """A line as a list of plain values in :data:`LINE_FIELDS` order."""
    record = [getattr(line, name) for name in LINE_FIELDS]
    record[TRANS_DATE_INDEX] = line.trans_date.isoformat()
    return record


def _canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class StatementSeal:
    """Hashes lines one at a time and counts them; :meth:`finish` adds the header."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.line_count = 0
        self.commission_e4 = 0

    def add(self, line: StatementLine) -> None:
        """Feed the next line (in statement order)."""
        self.add_record(line_record(line))

    def add_record(self, record: Sequence[Any]) -> None:
        """Feed the next line as plain values in :data:`LINE_FIELDS` order (the fast path)."""
        self._hash.update(_canonical(record) + b"\n")
        self.line_count += 1
        self.commission_e4 += record[COMMISSION_INDEX]

    def finish(self, statement: Statement) -> str:
        """The hex digest, once every line was added."""
        final = self._hash.copy()
        final.update(_canonical(header_record(statement)) + b"\n")
        return final.hexdigest()


def seal_statement(statement: Statement, lines: Iterable[StatementLine]) -> str:
    """The content hash of a statement and its lines."""
    seal = StatementSeal()
    for line in lines:
        seal.add(line)
    return seal.finish(statement)


def expected_commission_e4(rule_kind: str, rule_value: int, base_minor: int) -> int | None:
    """What a pay line's snapshot says it earned; None for reversals (they follow a share)."""
    if rule_kind in ("rate", "default"):
        return base_minor * rule_value
    if rule_kind == "fixed":
        return rule_value * E4_PER_MINOR
    return None
