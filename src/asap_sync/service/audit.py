"""The audit: every invariant of SPEC §5, and every transaction re-proven by its signed request.

Everything is streamed (bounded memory): set-based detection queries, statements re-sealed one
line at a time, and a merge of transactions with their lines, both ordered by transaction id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Protocol

from asap_sync.domain.invariants import (
    Violation,
    check_line_snapshot,
    check_refunds_within_origin,
    check_reversal_within_earned,
    check_rounded_total,
    check_statement_sums,
    compare_content,
)
from asap_sync.domain.model import SyncCommand
from asap_sync.domain.settlement import Statement, StatementLine, StatementSeal, TransactionTotals
from asap_sync.service.audit_signatures import SignatureChecker, check_pay_lines

ParseBody = Callable[[bytes, str], SyncCommand]
DEFAULT_LIMIT = 10_000


class AuditSource(Protocol):
    """The reads the audit needs (rows are read by attribute name)."""

    def misplaced_transactions(self) -> Iterator[Any]: ...
    def carried_forward(self) -> int: ...
    def incomplete_periods(self) -> list[str]: ...
    def unsettled_lines(self) -> Iterator[Any]: ...
    def diverging_statement_lines(self) -> Iterator[Any]: ...
    def duplicate_active_lines(self) -> Iterator[Any]: ...
    def refund_totals(self) -> Iterator[Any]: ...
    def reversal_totals(self) -> Iterator[Any]: ...
    def misdirected_reversals(self) -> Iterator[Any]: ...
    def statements(self) -> Iterator[tuple[Statement, int]]: ...
    def statement_lines(self, statement_id: int) -> Iterator[StatementLine]: ...
    def transaction_totals(self, statement_id: int) -> TransactionTotals: ...
    def signed_transactions(self) -> Iterator[Any]: ...
    def active_lines(self) -> Iterator[Any]: ...
    def client_key(self, client_id: str, key_version: int) -> str | None: ...


@dataclass(kw_only=True, slots=True)
class AuditReport:
    """What the audit checked and what it found (the first ``limit`` violations are kept)."""

    transactions: int = 0
    statements: int = 0
    statement_lines: int = 0
    carried_forward: int = 0
    violations: list[Violation] = field(default_factory=list)
    by_check: Counter[str] = field(default_factory=Counter)
    limit: int = DEFAULT_LIMIT

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.by_check

    @property
    def violation_count(self) -> int:
        """All violations found, kept or not."""
        return sum(self.by_check.values())

    def add(self, violation: Violation | None) -> None:
        """Record a finding (None is no finding)."""
        if violation is None:
            return
        self.by_check[violation.check] += 1
        if len(self.violations) < self.limit:
            self.violations.append(violation)


def audit(source: AuditSource, *, parse_body: ParseBody, limit: int = DEFAULT_LIMIT) -> AuditReport:
    """Run every check; ``parse_body`` turns a raw body and a client id into its command."""
    report = AuditReport(limit=limit)
    _check_placement(source, report)
    _check_statement_lines(source, report)
    _check_refunds(source, report)
    _check_statements(source, report)
    _check_signed(source, report, SignatureChecker(source.client_key), parse_body)
    return report


def _check_placement(source: AuditSource, report: AuditReport) -> None:
    """Every transaction is in exactly one statement, or PENDING for the next close."""
    for row in source.misplaced_transactions():
        subject = f"transaction {row.transaction_id} ({row.merchant_id}/{row.out_trans_id})"
        if row.status == "PENDING":
            detail = f"is PENDING but names statement {row.statement_id}"
        elif row.found_statement is None:
            detail = f"is {row.status} but in no statement (statement_id {row.statement_id})"
        else:
            detail = (
                f"is {row.status}, accepted in {row.period}, but its statement "
                f"{row.found_statement} is {row.statement_status} for "
                f"{row.statement_merchant} {row.statement_period}"
            )
        report.add(Violation(check="transaction-placement", subject=subject, detail=detail))
    for period in source.incomplete_periods():
        report.add(
            Violation(
                check="period-incomplete",
                subject=f"period {period}",
                detail="its close started and did not finish: run `periods close` again",
            )
        )
    report.carried_forward = source.carried_forward()


def _check_statement_lines(source: AuditSource, report: AuditReport) -> None:
    """Statement lines are exactly the active lines of the statement's transactions."""
    for row in source.unsettled_lines():
        report.add(
            Violation(
                check="line-not-in-statement",
                subject=f"commission line {row.line_id} of {row.out_trans_id}",
                detail=f"line {row.line_no} is active but not in statement {row.statement_id} "
                "that settles its transaction (a line added after the close?)",
            )
        )
    for row in source.diverging_statement_lines():
        report.add(
            Violation(
                check="statement-line-diverges",
                subject=f"statement {row.statement_id} line {row.line_id} ({row.out_trans_id})",
                detail=f"statement says {row.commission_e4} e4 on amount "
                f"{row.transaction_amount_minor}; ledger says {row.line_commission_e4} e4 "
                f"on amount {row.amount_minor}, superseded {row.superseded_at}, "
                f"transaction in statement {row.transaction_statement}",
            )
        )
    for row in source.duplicate_active_lines():
        report.add(
            Violation(
                check="double-line",
                subject=f"transaction {row.transaction_id} ({row.out_trans_id})",
                detail=f"{row.n} active commission lines numbered {row.line_no}",
            )
        )


def _check_refunds(source: AuditSource, report: AuditReport) -> None:
    """No origin refunded beyond its amount; no commission reversed beyond what it earned."""
    for row in source.refund_totals():
        report.add(
            check_refunds_within_origin(
                f"{row.transaction_id} ({row.merchant_id}/{row.out_trans_id})",
                int(row.amount_minor),
                int(row.refunded),
            )
        )
    for row in source.reversal_totals():
        report.add(
            check_reversal_within_earned(
                f"{row.line_id} of {row.out_trans_id}",
                earned_e4=int(row.earned),
                reversed_e4=int(row.reversed),
                fully_refunded=bool(row.fully_refunded),
            )
        )
    for row in source.misdirected_reversals():
        report.add(
            Violation(
                check="reversal-reference",
                subject=f"commission line {row.line_id} of {row.out_trans_id}",
                detail=f"reverses line {row.reversed_line}, which is superseded or is not a "
                "line of the refund's origin",
            )
        )


def _check_statements(source: AuditSource, report: AuditReport) -> None:
    """Each statement's totals equal the sum of its lines, and its seal still matches."""
    for statement, stored_minor in source.statements():
        report.statements += 1
        seal = StatementSeal()
        for line in source.statement_lines(statement.statement_id):
            seal.add(line)
        report.statement_lines += seal.line_count
        for violation in check_statement_sums(
            statement,
            line_count=seal.line_count,
            commission_e4=seal.commission_e4,
            totals=source.transaction_totals(statement.statement_id),
            content_hash=seal.finish(statement),
        ):
            report.add(violation)
        report.add(check_rounded_total(statement, stored_minor))


def _check_signed(
    source: AuditSource, report: AuditReport, signatures: SignatureChecker, parse_body: ParseBody
) -> None:
    """Every transaction verifies against its signed request, and its lines follow from it."""
    lines = _LinesByTransaction(source.active_lines())
    for row in source.signed_transactions():
        report.transactions += 1
        subject = f"transaction {row.transaction_id} ({row.merchant_id}/{row.out_trans_id})"
        own_lines = lines.take(row.transaction_id)
        for violation in _check_one_signed(row, subject, own_lines, signatures, parse_body):
            report.add(violation)


def _check_one_signed(
    row: Any,
    subject: str,
    lines: Sequence[Any],
    signatures: SignatureChecker,
    parse_body: ParseBody,
) -> list[Violation]:
    found = [
        check_line_snapshot(
            f"{line.line_id} of {row.out_trans_id}",
            rule_kind=line.rule_kind,
            rule_value=line.rule_value,
            base_minor=line.base_minor,
            commission_e4=line.commission_e4,
        )
        for line in lines
    ]
    found.append(signatures.check(row, subject))
    if row.body is None:
        return [v for v in found if v is not None]
    try:
        command = parse_body(row.body, row.raw_client_id)
    except Exception as exc:  # any parse failure is a finding, not a crash of the audit
        found.append(
            Violation(check="raw-body", subject=subject, detail=f"raw body does not parse: {exc}")
        )
        return [v for v in found if v is not None]
    found.append(compare_content(subject, json.loads(row.content), command.content))
    if row.direction == "pay":
        found.extend(check_pay_lines(subject, command, int(row.amount_minor), lines))
    elif command.trade_amount_minor is not None and command.trade_amount_minor != row.amount_minor:
        found.append(
            Violation(
                check="amount-mismatch",
                subject=subject,
                detail=f"stored amount {row.amount_minor}, signed tradeAmt "
                f"{command.trade_amount_minor}",
            )
        )
    return [v for v in found if v is not None]


class _LinesByTransaction:
    """The active lines stream, consumed in step with the transactions stream."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self._groups = (
            (key, list(group)) for key, group in groupby(rows, lambda r: r.transaction_id)
        )
        self._next = next(self._groups, None)

    def take(self, transaction_id: int) -> list[Any]:
        while self._next is not None and self._next[0] < transaction_id:
            self._next = next(self._groups, None)
        if self._next is not None and self._next[0] == transaction_id:
            found = self._next[1]
            self._next = next(self._groups, None)
            return found
        return []
