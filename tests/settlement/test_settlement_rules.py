"""Unit tests of the pure settlement rules: periods, the seal, the invariant checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asap_sync.domain.invariants import (
    check_line_snapshot,
    check_refunds_within_origin,
    check_reversal_within_earned,
    check_rounded_total,
    check_statement_sums,
    compare_content,
)
from asap_sync.domain.money import round_e4_to_minor
from asap_sync.domain.settlement import (
    EarlierPeriodUnclosed,
    InvalidPeriod,
    PeriodInFuture,
    PeriodNotClosed,
    PeriodStatus,
    PeriodStillRunning,
    Statement,
    StatementLine,
    TransactionTotals,
    check_assign_allowed,
    check_close_allowed,
    next_period,
    parse_period,
    seal_statement,
)


def a_line(**changes: object) -> StatementLine:
    line = StatementLine(
        line_id=1,
        transaction_id=1,
        out_trans_id="T1",
        direction="pay",
        trans_date=datetime(2026, 1, 2, tzinfo=UTC),
        accepted_period="2026-01",
        transaction_amount_minor=10_000,
        origin_out_trans_id=None,
        line_no=1,
        contract_id="C1",
        rule_kind="rate",
        rule_value=150,
        base_minor=10_000,
        commission_e4=1_500_000,
        goods_index=0,
        goods_code="RENEWAL",
        reverses_line_id=None,
        reverses_statement_id=None,
    )
    return replace(line, **changes)  # type: ignore[arg-type]


def a_statement(**changes: object) -> Statement:
    statement = Statement(
        statement_id=7,
        period="2026-01",
        merchant_id="M1",
        totals=TransactionTotals(transaction_count=1, pay_count=1, gross_minor=10_000),
        line_count=1,
        commission_e4=1_500_000,
    )
    return replace(statement, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["2026-1", "2026-13", "26-01", "2026-00", "2026-01-01", ""])
def test_a_period_must_be_a_month_written_yyyy_mm(text: str) -> None:
    with pytest.raises(InvalidPeriod):
        parse_period(text)


def test_the_period_after_december_is_january_of_the_next_year() -> None:
    assert next_period("2026-12") == "2027-01"
    assert next_period("2026-01") == "2026-02"


def test_closing_the_current_month_needs_the_flag_and_the_future_is_refused() -> None:
    with pytest.raises(PeriodStillRunning):
        check_close_allowed(
            period="2026-03", current="2026-03", allow_open_month=False, unclosed_earlier=[]
        )
    check_close_allowed(
        period="2026-03", current="2026-03", allow_open_month=True, unclosed_earlier=[]
    )
    with pytest.raises(PeriodInFuture):
        check_close_allowed(
            period="2026-04", current="2026-03", allow_open_month=True, unclosed_earlier=[]
        )


def test_a_half_closed_earlier_period_must_be_re_run_first() -> None:
    with pytest.raises(EarlierPeriodUnclosed, match="re-run its close"):
        check_close_allowed(
            period="2026-03",
            current="2026-05",
            allow_open_month=False,
            unclosed_earlier=[("2026-02", PeriodStatus.CLOSING)],
        )


def test_only_a_closed_period_can_be_assigned() -> None:
    with pytest.raises(PeriodNotClosed):
        check_assign_allowed(period="2026-01", status=PeriodStatus.CLOSING)
    check_assign_allowed(period="2026-01", status=PeriodStatus.CLOSED)


def test_the_seal_changes_with_any_line_field_or_header_total() -> None:
    base = seal_statement(a_statement(), [a_line()])
    assert len(base) == 64
    assert seal_statement(a_statement(), [a_line()]) == base
    assert seal_statement(a_statement(), [a_line(commission_e4=1_500_001)]) != base
    assert seal_statement(a_statement(), [a_line(goods_code="NEW_CONTRACT")]) != base
    assert seal_statement(a_statement(line_count=2), [a_line()]) != base
    assert seal_statement(a_statement(), [a_line(), a_line()]) != base


def test_status_and_timestamps_are_not_sealed() -> None:
    sealed = seal_statement(a_statement(), [a_line()])
    later = a_statement(assigned_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert seal_statement(later, [a_line()]) == sealed


@given(st.lists(st.integers(-(10**12), 10**12), max_size=30))
def test_the_statement_total_is_the_exact_sum_rounded_once(amounts: list[int]) -> None:
    lines = [a_line(line_id=n, commission_e4=a) for n, a in enumerate(amounts)]
    statement = a_statement(commission_e4=sum(amounts), line_count=len(amounts))
    sealed = replace(statement, content_hash=seal_statement(statement, lines))
    assert sealed.commission_minor == round_e4_to_minor(sum(amounts))
    assert not check_statement_sums(
        sealed,
        line_count=len(amounts),
        commission_e4=sum(amounts),
        totals=sealed.totals,
        content_hash=seal_statement(sealed, lines),
    )


def test_a_total_off_by_one_is_a_statement_total_violation() -> None:
    statement = a_statement()
    (found,) = check_statement_sums(
        statement,
        line_count=1,
        commission_e4=1_500_001,
        totals=statement.totals,
        content_hash=statement.content_hash,
    )
    assert found.check == "statement-total"
    assert check_rounded_total(statement, 151) is not None
    assert check_rounded_total(statement, 150) is None


def test_refunds_beyond_the_origin_amount_are_a_violation() -> None:
    assert check_refunds_within_origin("T1", 100, 100) is None
    found = check_refunds_within_origin("T1", 100, 101)
    assert found is not None and "1.01 HKD" in found.detail


def test_reversals_undo_at_most_what_was_earned_and_exactly_it_when_fully_refunded() -> None:
    assert (
        check_reversal_within_earned("1", earned_e4=100, reversed_e4=-40, fully_refunded=False)
        is None
    )
    assert (
        check_reversal_within_earned("1", earned_e4=100, reversed_e4=-100, fully_refunded=True)
        is None
    )
    assert check_reversal_within_earned("1", earned_e4=100, reversed_e4=-101, fully_refunded=False)
    assert check_reversal_within_earned("1", earned_e4=100, reversed_e4=-99, fully_refunded=True)
    assert check_reversal_within_earned("1", earned_e4=100, reversed_e4=5, fully_refunded=False)


def test_a_pay_line_must_earn_what_its_snapshot_says() -> None:
    ok = {"rule_kind": "rate", "rule_value": 150, "base_minor": 10_000}
    assert check_line_snapshot("1", commission_e4=1_500_000, **ok) is None  # type: ignore[arg-type]
    assert check_line_snapshot("1", commission_e4=1_500_001, **ok) is not None  # type: ignore[arg-type]
    fixed = {"rule_kind": "fixed", "rule_value": 5_000, "base_minor": 1}
    assert check_line_snapshot("1", commission_e4=50_000_000, **fixed) is None  # type: ignore[arg-type]
    reversal = {"rule_kind": "reversal", "rule_value": 150, "base_minor": 1}
    assert check_line_snapshot("1", commission_e4=-7, **reversal) is None  # type: ignore[arg-type]


def test_content_differences_name_the_fields() -> None:
    found = compare_content("T1", {"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4})
    assert found is not None and found.detail.endswith("b, c")
    assert compare_content("T1", {"a": 1}, {"a": 1}) is None
