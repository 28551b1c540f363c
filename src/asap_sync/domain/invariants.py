"""The invariants of SPEC §5 over plain values; each finding is a :class:`Violation`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asap_sync.domain.money import format_e4_hkd, format_minor_hkd
from asap_sync.domain.settlement import (
    Statement,
    StatementStatus,
    TransactionTotals,
    expected_commission_e4,
)

SETTLED_STATUS = {StatementStatus.CLOSED: "PROCESSING", StatementStatus.ASSIGNED: "ASSIGNED"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Violation:
    """One broken invariant: which check, about what, and the facts needed to act on it."""

    check: str
    subject: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        """For ``--json`` output."""
        return {"check": self.check, "subject": self.subject, "detail": self.detail}


def check_statement_sums(
    statement: Statement,
    *,
    line_count: int,
    commission_e4: int,
    totals: TransactionTotals,
    content_hash: str,
) -> list[Violation]:
    """The stored totals equal the sums of the lines and transactions; the seal still matches."""
    subject = f"statement {statement.statement_id} ({statement.merchant_id} {statement.period})"
    found: list[Violation] = []
    if statement.line_count != line_count or statement.commission_e4 != commission_e4:
        found.append(
            Violation(
                check="statement-total",
                subject=subject,
                detail=f"stored {statement.line_count} lines totalling "
                f"{format_e4_hkd(statement.commission_e4)} HKD; its lines are {line_count} "
                f"totalling {format_e4_hkd(commission_e4)} HKD",
            )
        )
    if statement.totals != totals:
        found.append(
            Violation(
                check="statement-transactions",
                subject=subject,
                detail=f"stored {_describe(statement.totals)}; its transactions give "
                f"{_describe(totals)}",
            )
        )
    if statement.content_hash != content_hash:
        found.append(
            Violation(
                check="statement-seal",
                subject=subject,
                detail=f"content hash {statement.content_hash} no longer matches its content "
                f"({content_hash})",
            )
        )
    return found


def check_rounded_total(statement: Statement, stored_minor: int) -> Violation | None:
    """The stored minor-unit total is the exact total rounded once, half up."""
    if stored_minor == statement.commission_minor:
        return None
    return Violation(
        check="statement-total",
        subject=f"statement {statement.statement_id} ({statement.merchant_id} {statement.period})",
        detail=f"stored total {format_minor_hkd(stored_minor)} HKD, but "
        f"{format_e4_hkd(statement.commission_e4)} HKD rounds half up to "
        f"{format_minor_hkd(statement.commission_minor)} HKD",
    )


def _describe(t: TransactionTotals) -> str:
    return (
        f"{t.transaction_count} transactions ({t.pay_count} pays, {t.refund_count} refunds), "
        f"gross {format_minor_hkd(t.gross_minor)}, refunded {format_minor_hkd(t.refunded_minor)}"
    )


def check_refunds_within_origin(
    origin: str, amount_minor: int, refunded_minor: int
) -> Violation | None:
    """No origin is refunded beyond its amount."""
    if refunded_minor <= amount_minor:
        return None
    return Violation(
        check="refund-exceeds-origin",
        subject=f"transaction {origin}",
        detail=f"refunds total {format_minor_hkd(refunded_minor)} HKD of an amount of "
        f"{format_minor_hkd(amount_minor)} HKD",
    )


def check_reversal_within_earned(
    line: str, *, earned_e4: int, reversed_e4: int, fully_refunded: bool
) -> Violation | None:
    """Reversals never exceed what a line earned; a fully refunded origin reverses exactly it.

    ``reversed_e4`` is the sum of the reversal lines (zero or negative).
    """
    undone = -reversed_e4
    if earned_e4 >= 0 and 0 <= undone <= earned_e4 and (undone == earned_e4 or not fully_refunded):
        return None
    expectation = "exactly" if fully_refunded else "at most"
    return Violation(
        check="reversal-exceeds-earned",
        subject=f"commission line {line}",
        detail=f"earned {format_e4_hkd(earned_e4)} HKD, reversals total "
        f"{format_e4_hkd(reversed_e4)} HKD; they must undo {expectation} what it earned",
    )


def check_line_snapshot(
    line: str, *, rule_kind: str, rule_value: int, base_minor: int, commission_e4: int
) -> Violation | None:
    """A pay line earned what its own snapshot (rule, value, base) says."""
    expected = expected_commission_e4(rule_kind, rule_value, base_minor)
    if expected is None or expected == commission_e4:
        return None
    return Violation(
        check="line-snapshot",
        subject=f"commission line {line}",
        detail=f"{rule_kind} {rule_value} on base {format_minor_hkd(base_minor)} HKD earns "
        f"{format_e4_hkd(expected)} HKD, but the line says {format_e4_hkd(commission_e4)} HKD",
    )


def compare_content(
    subject: str, stored: Mapping[str, Any], signed: Mapping[str, Any]
) -> Violation | None:
    """The stored content is exactly what the signed raw body says."""
    if dict(stored) == dict(signed):
        return None
    keys = sorted(k for k in set(stored) | set(signed) if stored.get(k) != signed.get(k))
    return Violation(
        check="content-mismatch",
        subject=subject,
        detail=f"stored content differs from the signed request in: {', '.join(keys)}",
    )
