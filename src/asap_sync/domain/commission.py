"""Commission lines of a pay and the reversal lines of a refund, exact in e4."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from asap_sync.domain.errors import (
    GoodsExceedTradeAmount,
    NoValidContract,
    RefundExceedsOrigin,
)
from asap_sync.domain.model import Contract, Goods, LineDraft, StoredLine
from asap_sync.domain.money import fixed_commission_e4, format_minor_hkd, rate_commission_e4


def pay_amount_minor(trade_amount_minor: int | None, goods: Sequence[Goods]) -> int:
    """The amount a pay is worth: ``tradeAmt``, else the sum of its goods, else 0."""
    if trade_amount_minor is not None:
        return trade_amount_minor
    return sum(g.price_minor for g in goods)


def check_goods_within_threshold(
    trade_amount_minor: int | None, goods: Sequence[Goods], threshold_minor: int
) -> None:
    """Goods may exceed ``tradeAmt`` by at most the contract's threshold."""
    if trade_amount_minor is None or not goods:
        return
    total = sum(g.price_minor for g in goods)
    if total - trade_amount_minor > threshold_minor:
        raise GoodsExceedTradeAmount(
            f"goods prices total {format_minor_hkd(total)} HKD, more than tradeAmt "
            f"{format_minor_hkd(trade_amount_minor)} HKD plus the threshold of "
            f"{format_minor_hkd(threshold_minor)} HKD"
        )


def pick_contract(contracts: Sequence[Contract], merchant_id: str, moment: datetime) -> Contract:
    """The merchant's contract whose validity period contains the transaction date."""
    for contract in contracts:
        if contract.covers(moment):
            return contract
    raise NoValidContract(
        f"merchant {merchant_id} holds no CPS contract valid on transDate {moment.isoformat()}"
    )


def pay_lines(
    contract: Contract, trade_amount_minor: int | None, goods: Sequence[Goods]
) -> list[LineDraft]:
    """One line per goods item by its code's rule, or one default line on ``tradeAmt``."""
    if not goods:
        base = trade_amount_minor or 0
        return [
            LineDraft(
                line_no=1,
                contract_id=contract.contract_id,
                rule_kind="default",
                rule_value=contract.default_rate_bp,
                base_minor=base,
                commission_e4=rate_commission_e4(base, contract.default_rate_bp),
            )
        ]
    return [_goods_line(contract, i, item) for i, item in enumerate(goods)]


def _goods_line(contract: Contract, index: int, item: Goods) -> LineDraft:
    rule = contract.rules.get(item.code)
    if rule is None:
        kind, value = "default", contract.default_rate_bp
        earned = rate_commission_e4(item.price_minor, value)
    elif rule.kind == "rate":
        kind, value = "rate", rule.value
        earned = rate_commission_e4(item.price_minor, value)
    else:
        kind, value = "fixed", rule.value
        earned = fixed_commission_e4(value)
    return LineDraft(
        line_no=index + 1,
        contract_id=contract.contract_id,
        rule_kind=kind,
        rule_value=value,
        base_minor=item.price_minor,
        commission_e4=earned,
        goods_index=index,
        goods_code=item.code,
    )


def check_not_fully_refunded(
    origin_out_trans_id: str, origin_amount_minor: int, refunded_minor: int, *, refunds: int
) -> None:
    """A refund without ``tradeAmt`` refunds what remains, so it needs something to remain.

    An origin of amount 0 is completed by its first refund; after that, nothing remains either.
    """
    if refunds and refunded_minor >= origin_amount_minor:
        raise RefundExceedsOrigin(
            f"{origin_out_trans_id} is already fully refunded "
            f"({format_minor_hkd(refunded_minor)} HKD of {format_minor_hkd(origin_amount_minor)} "
            "HKD): nothing remains to refund"
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RefundPlan:
    """How much a refund refunds and the reversal lines it writes."""

    amount_minor: int
    lines: list[LineDraft]


def plan_refund(
    *,
    origin_out_trans_id: str,
    origin_amount_minor: int,
    refunded_before_minor: int,
    requested_minor: int | None,
    origin_lines: Sequence[StoredLine],
    reversed_before_e4: Mapping[int, int] | None = None,
) -> RefundPlan:
    """Reverse the origin's commission in proportion to the refunded share, cumulatively.

    Each line's reversal brings what it has reversed so far (``reversed_before_e4``, by line id,
    as a positive amount; derived from ``refunded_before_minor`` when not given) up to
    ``floor(earned × refunded_after / amount)``. So the refunds of one origin never reverse
    more than it earned, and the one that completes the amount reverses exactly the remainder
    (for an origin of amount 0, the first refund completes it).
    """
    remaining = origin_amount_minor - refunded_before_minor
    amount = remaining if requested_minor is None else requested_minor
    if amount > remaining:
        raise RefundExceedsOrigin(
            f"refund of {format_minor_hkd(amount)} HKD exceeds what remains of "
            f"{origin_out_trans_id}: {format_minor_hkd(remaining)} HKD of "
            f"{format_minor_hkd(origin_amount_minor)} HKD"
        )
    after = refunded_before_minor + amount
    lines = []
    for n, line in enumerate(origin_lines, start=1):
        if reversed_before_e4 is None:
            before = _share(line.commission_e4, refunded_before_minor, origin_amount_minor)
        else:
            before = reversed_before_e4.get(line.line_id, 0)
        target = _share(line.commission_e4, after, origin_amount_minor)
        lines.append(_reversal(n, line, -max(0, target - before)))
    return RefundPlan(amount_minor=amount, lines=lines)


def _reversal(line_no: int, line: StoredLine, commission_e4: int) -> LineDraft:
    return LineDraft(
        line_no=line_no,
        contract_id=line.contract_id,
        rule_kind="reversal",
        rule_value=line.rule_value,
        base_minor=line.base_minor,
        commission_e4=commission_e4,
        goods_index=line.goods_index,
        goods_code=line.goods_code,
        reverses_line_id=line.line_id,
    )


def _share(earned_e4: int, refunded_minor: int, amount_minor: int) -> int:
    """What ``refunded_minor`` of ``amount_minor`` reverses; all of it once fully refunded."""
    if refunded_minor >= amount_minor:
        return earned_e4
    return earned_e4 * refunded_minor // amount_minor
