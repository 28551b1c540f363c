"""Commission lines of a pay and the reversals of its refunds (SPEC §4.5, §4.7, §5)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asap_sync.domain.commission import (
    check_goods_within_threshold,
    pay_amount_minor,
    pay_lines,
    pick_contract,
    plan_refund,
)
from asap_sync.domain.errors import GoodsExceedTradeAmount, NoValidContract, RefundExceedsOrigin
from asap_sync.domain.model import Contract, Goods, LineDraft, Rule, StoredLine
from asap_sync.wire import ResultCode

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 1, tzinfo=UTC)
RULES = {"RENEWAL": Rule(kind="rate", value=150), "NEW_CONTRACT": Rule(kind="fixed", value=5000)}


def contract(
    *,
    contract_id: str = "CPS-1",
    valid_from: datetime = T0,
    valid_to: datetime | None = T1,
    rules: Mapping[str, Rule] = RULES,
    default_rate_bp: int = 100,
) -> Contract:
    return Contract(
        contract_id=contract_id,
        merchant_id="M-1",
        valid_from=valid_from,
        valid_to=valid_to,
        rules=rules,
        default_rate_bp=default_rate_bp,
    )


def item(code: str = "RENEWAL", price: int = 24800) -> Goods:
    return Goods(code=code, price_minor=price)


def stored(drafts: list[LineDraft], first_id: int = 100) -> list[StoredLine]:
    return [
        StoredLine(
            line_id=first_id + n,
            line_no=d.line_no,
            contract_id=d.contract_id,
            rule_kind=d.rule_kind,
            rule_value=d.rule_value,
            base_minor=d.base_minor,
            commission_e4=d.commission_e4,
            goods_index=d.goods_index,
            goods_code=d.goods_code,
        )
        for n, d in enumerate(drafts)
    ]


def origin_lines(*earned: int) -> list[StoredLine]:
    return [
        StoredLine(
            line_id=100 + n,
            line_no=n + 1,
            contract_id="CPS-1",
            rule_kind="rate",
            rule_value=150,
            base_minor=1000,
            commission_e4=e4,
            goods_index=n,
            goods_code="RENEWAL",
        )
        for n, e4 in enumerate(earned)
    ]


def refund(amount: int, before: int, requested: int | None, lines: list[StoredLine]) -> list[int]:
    plan = plan_refund(
        origin_out_trans_id="T-1",
        origin_amount_minor=amount,
        refunded_before_minor=before,
        requested_minor=requested,
        origin_lines=lines,
    )
    return [line.commission_e4 for line in plan.lines]


# --- pay lines ------------------------------------------------------------------------------


def test_a_rate_rule_earns_its_basis_points_of_the_goods_price() -> None:
    (line,) = pay_lines(contract(), 24800, [item("RENEWAL", 24800)])
    assert line == LineDraft(
        line_no=1,
        contract_id="CPS-1",
        rule_kind="rate",
        rule_value=150,
        base_minor=24800,
        commission_e4=24800 * 150,
        goods_index=0,
        goods_code="RENEWAL",
    )


def test_a_fixed_rule_earns_its_amount_per_item_whatever_the_price() -> None:
    lines = pay_lines(contract(), None, [item("NEW_CONTRACT", 1), item("NEW_CONTRACT", 99_999)])
    assert [(line.rule_kind, line.rule_value) for line in lines] == [("fixed", 5000)] * 2
    assert [line.commission_e4 for line in lines] == [5000 * 10_000] * 2
    assert [line.base_minor for line in lines] == [1, 99_999]


def test_a_goods_code_without_a_rule_earns_the_default_rate_on_its_price() -> None:
    only_renewal = contract(rules={"RENEWAL": Rule(kind="rate", value=150)}, default_rate_bp=70)
    renewal, new = pay_lines(
        only_renewal, None, [item("RENEWAL", 1000), item("NEW_CONTRACT", 3000)]
    )
    assert (renewal.rule_kind, renewal.commission_e4) == ("rate", 150_000)
    assert (new.rule_kind, new.rule_value, new.base_minor) == ("default", 70, 3000)
    assert new.commission_e4 == 3000 * 70
    assert (new.goods_index, new.goods_code, new.line_no) == (1, "NEW_CONTRACT", 2)


def test_a_pay_without_goods_gets_one_default_line_on_its_trade_amount() -> None:
    (line,) = pay_lines(contract(default_rate_bp=100), 24800, [])
    assert (line.line_no, line.rule_kind, line.rule_value) == (1, "default", 100)
    assert (line.base_minor, line.commission_e4) == (24800, 24800 * 100)
    assert (line.goods_index, line.goods_code) == (None, None)


def test_a_pay_without_goods_or_trade_amount_gets_a_zero_default_line() -> None:
    (line,) = pay_lines(contract(), None, [])
    assert (line.base_minor, line.commission_e4) == (0, 0)


def test_a_zero_rate_earns_nothing_but_still_writes_its_line() -> None:
    zero = contract(rules={"RENEWAL": Rule(kind="rate", value=0)}, default_rate_bp=0)
    assert [line.commission_e4 for line in pay_lines(zero, 24800, [])] == [0]
    assert [line.commission_e4 for line in pay_lines(zero, 24800, [item()])] == [0]


def test_each_goods_item_gets_its_own_numbered_line_with_a_snapshot() -> None:
    goods = [item("RENEWAL", 100), item("NEW_CONTRACT", 200), item("RENEWAL", 300)]
    lines = pay_lines(contract(), 600, goods)
    assert [(line.line_no, line.goods_index) for line in lines] == [(1, 0), (2, 1), (3, 2)]
    assert {line.contract_id for line in lines} == {"CPS-1"}
    assert [line.commission_e4 for line in lines] == [100 * 150, 5000 * 10_000, 300 * 150]


@pytest.mark.parametrize(
    ("trade", "goods", "amount"),
    [(24800, [item(price=1)], 24800), (None, [item(price=1), item(price=2)], 3), (None, [], 0)],
)
def test_a_pay_is_worth_its_trade_amount_else_its_goods_else_nothing(
    trade: int | None, goods: list[Goods], amount: int
) -> None:
    assert pay_amount_minor(trade, goods) == amount


# --- amount threshold -----------------------------------------------------------------------


def test_goods_exceeding_the_trade_amount_by_exactly_the_threshold_are_accepted() -> None:
    check_goods_within_threshold(10_000, [item(price=5_000), item(price=205_000)], 200_000)


def test_goods_exceeding_the_trade_amount_by_one_minor_unit_more_are_invalid_amount() -> None:
    with pytest.raises(GoodsExceedTradeAmount) as caught:
        check_goods_within_threshold(10_000, [item(price=5_000), item(price=205_001)], 200_000)
    assert caught.value.code is ResultCode.INVALID_AMOUNT
    assert "2100.01" in caught.value.context and "2000.00" in caught.value.context


@pytest.mark.parametrize(
    ("trade", "goods"),
    [(None, [item(price=10**12)]), (0, []), (100, [item(price=50)]), (0, [item(price=0)])],
)
def test_goods_are_not_checked_against_an_absent_trade_amount_or_when_absent(
    trade: int | None, goods: list[Goods]
) -> None:
    check_goods_within_threshold(trade, goods, 0)


def test_a_zero_threshold_allows_goods_up_to_the_trade_amount_only() -> None:
    check_goods_within_threshold(100, [item(price=100)], 0)
    with pytest.raises(GoodsExceedTradeAmount):
        check_goods_within_threshold(100, [item(price=101)], 0)


# --- contract choice ------------------------------------------------------------------------


def test_the_contract_covering_the_trans_date_is_picked_from_inclusive_start_to_exclusive_end() -> (
    None
):
    first, second = (
        contract(valid_to=T1),
        contract(contract_id="CPS-2", valid_from=T1, valid_to=None),
    )
    assert pick_contract([first, second], "M-1", T0) is first
    assert pick_contract([first, second], "M-1", T1 - timedelta(microseconds=1)) is first
    assert pick_contract([first, second], "M-1", T1) is second


def test_a_trans_date_outside_every_contract_is_invalid_contract() -> None:
    with pytest.raises(NoValidContract) as caught:
        pick_contract([contract()], "M-1", T1)
    assert caught.value.code is ResultCode.INVALID_CONTRACT
    with pytest.raises(NoValidContract):
        pick_contract([contract()], "M-1", T0 - timedelta(microseconds=1))
    with pytest.raises(NoValidContract):
        pick_contract([], "M-1", T0)


# --- refunds --------------------------------------------------------------------------------


def test_a_refund_without_amount_reverses_everything_each_line_earned() -> None:
    lines = stored(
        pay_lines(contract(), 30_000, [item("RENEWAL", 10_000), item("NEW_CONTRACT", 20_000)])
    )
    plan = plan_refund(
        origin_out_trans_id="T-1",
        origin_amount_minor=30_000,
        refunded_before_minor=0,
        requested_minor=None,
        origin_lines=lines,
    )
    assert plan.amount_minor == 30_000
    assert [line.commission_e4 for line in plan.lines] == [-1_500_000, -50_000_000]
    first = plan.lines[0]
    assert (first.rule_kind, first.reverses_line_id, first.line_no) == ("reversal", 100, 1)
    assert (first.contract_id, first.rule_value, first.base_minor) == ("CPS-1", 150, 10_000)
    assert (first.goods_index, first.goods_code) == (0, "RENEWAL")
    assert plan.lines[1].reverses_line_id == 101


def test_a_partial_refund_reverses_the_refunded_share_rounded_down() -> None:
    assert refund(30_000, 0, 10_000, origin_lines(1_000_000, 7)) == [-333_333, -2]
    assert refund(30_000, 10_000, 10_000, origin_lines(1_000_000, 7)) == [-333_333, -2]
    assert refund(30_000, 20_000, None, origin_lines(1_000_000, 7)) == [-333_334, -3]


def test_a_refund_beyond_what_remains_is_invalid_amount() -> None:
    with pytest.raises(RefundExceedsOrigin) as caught:
        refund(30_000, 10_000, 20_001, origin_lines(1))
    assert caught.value.code is ResultCode.INVALID_AMOUNT
    assert "200.01" in caught.value.context and "200.00" in caught.value.context
    assert "T-1" in caught.value.context


def test_a_refund_of_exactly_what_remains_is_accepted() -> None:
    assert refund(30_000, 10_000, 20_000, origin_lines(30_000)) == [-20_000]


def test_a_refund_without_amount_after_a_full_refund_refunds_and_reverses_nothing() -> None:
    plan = plan_refund(
        origin_out_trans_id="T-1",
        origin_amount_minor=500,
        refunded_before_minor=500,
        requested_minor=None,
        origin_lines=origin_lines(9_999),
    )
    assert plan.amount_minor == 0
    assert [line.commission_e4 for line in plan.lines] == [0]


def test_a_refund_of_a_zero_amount_origin_refunds_zero_and_never_exceeds_what_it_earned() -> None:
    for requested in (None, 0):
        plan = plan_refund(
            origin_out_trans_id="T-1",
            origin_amount_minor=0,
            refunded_before_minor=0,
            requested_minor=requested,
            origin_lines=origin_lines(50_000_000, 0),
        )
        assert plan.amount_minor == 0
        assert all(-50_000_000 <= line.commission_e4 <= 0 for line in plan.lines)
    with pytest.raises(RefundExceedsOrigin):
        refund(0, 0, 1, origin_lines(50_000_000))


def test_the_refund_completing_a_zero_amount_origin_reverses_what_it_earned() -> None:
    lines = origin_lines(50_000_000)
    first = plan_refund(
        origin_out_trans_id="T-1",
        origin_amount_minor=0,
        refunded_before_minor=0,
        requested_minor=None,
        origin_lines=lines,
        reversed_before_e4={},
    )
    assert [line.commission_e4 for line in first.lines] == [-50_000_000]
    again = plan_refund(
        origin_out_trans_id="T-1",
        origin_amount_minor=0,
        refunded_before_minor=0,
        requested_minor=None,
        origin_lines=lines,
        reversed_before_e4={lines[0].line_id: 50_000_000},
    )
    assert [line.commission_e4 for line in again.lines] == [0]


def test_a_refund_of_an_origin_without_lines_writes_no_lines() -> None:
    assert refund(1000, 0, None, []) == []


@st.composite
def refund_histories(draw: st.DrawFn) -> tuple[int, list[int], list[int]]:
    """An origin amount, the earnings of its lines and the amounts of its partial refunds."""
    amount = draw(st.integers(1, 10**12))
    earned = draw(st.lists(st.integers(0, 10**16), min_size=1, max_size=5))
    refunds: list[int] = []
    remaining = amount
    for _ in range(draw(st.integers(0, 6))):
        part = draw(st.integers(0, remaining) | st.just(remaining) | st.just(1 % (remaining + 1)))
        refunds.append(part)
        remaining -= part
    return amount, earned, refunds


@settings(max_examples=300)
@given(refund_histories())
def test_partial_refunds_then_a_final_one_reverse_exactly_what_each_line_earned(
    history: tuple[int, list[int], list[int]],
) -> None:
    amount, earned, refunds = history
    lines = origin_lines(*earned)
    reversed_so_far = [0] * len(lines)
    refunded = 0
    for requested in [*refunds, None]:
        reversal = refund(amount, refunded, requested, lines)
        assert all(e4 <= 0 for e4 in reversal)
        reversed_so_far = [r + e4 for r, e4 in zip(reversed_so_far, reversal, strict=True)]
        assert all(-r <= e for r, e in zip(reversed_so_far, earned, strict=True))
        refunded += amount - refunded if requested is None else requested
        if refunded == amount:
            assert reversed_so_far == [-e for e in earned]
    assert refunded == amount


@settings(max_examples=200)
@given(refund_histories(), st.integers(1, 10**6))
def test_a_refund_beyond_the_remainder_is_always_refused(
    history: tuple[int, list[int], list[int]], excess: int
) -> None:
    amount, earned, refunds = history
    refunded = sum(refunds)
    with pytest.raises(RefundExceedsOrigin):
        refund(amount, refunded, amount - refunded + excess, origin_lines(*earned))
