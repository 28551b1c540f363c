"""Building a sync: amounts, dates, defaults and the platform's own body rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asap_sync.client import Goods, InvalidSyncError, format_hkd, to_minor_units
from asap_sync.client._money import AmountError, parse_hkd, parse_minor

from .test_client_sync import a_payment


def test_int_amounts_are_minor_units_and_decimal_amounts_are_hkd() -> None:
    assert to_minor_units(24800) == 24800
    assert to_minor_units(Decimal("248.00")) == 24800
    assert to_minor_units(Decimal("248")) == 24800
    assert to_minor_units(Decimal("0.5")) == 50


@pytest.mark.parametrize("amount", [248.0, "248", True, None])
def test_a_float_string_or_bool_amount_is_refused(amount: object) -> None:
    with pytest.raises(AmountError, match="int minor units or Decimal HKD"):
        to_minor_units(amount)


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        (Decimal("1.001"), "at most 2 decimals"),
        (Decimal("NaN"), "finite"),
        (Decimal("-1"), "negative"),
        (-5, "negative"),
        (10**18, "at most 18 digits"),
    ],
)
def test_amounts_outside_the_wire_rules_are_refused(amount: object, rule: str) -> None:
    with pytest.raises(AmountError, match=rule):
        to_minor_units(amount)


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_hkd_text_round_trips_through_minor_units(minor: int) -> None:
    assert parse_hkd(format_hkd(minor)) == minor
    assert parse_minor(str(minor)) == minor


def test_hkd_text_with_a_sign_or_exponent_is_refused() -> None:
    for text in ("-1.00", "1e3", "", "12,00"):
        with pytest.raises(AmountError):
            parse_hkd(text)


def test_the_builder_produces_the_wire_request_with_defaults() -> None:
    request = a_payment().to_request()
    assert request.request_id == "T-1"
    assert request.trans_type == "transaction"
    assert request.direction == "pay"
    assert request.trade_amt is not None and request.trade_amt.minor == 24800
    assert request.goods[0].goods_price.value == "24800"


def test_the_body_is_the_canonical_compact_json() -> None:
    body = a_payment().to_body()
    data = json.loads(body)
    assert data["tradeAmt"] == {"currency": "HKD", "value": "24800"}
    assert data["extendInfo"]["goodsInfoList"][0]["goodsCode"] == "RENEWAL"
    assert b", " not in body


def test_an_aware_datetime_becomes_iso_8601_with_its_offset() -> None:
    hk = timezone(timedelta(hours=8))
    request = a_payment(trans_date=datetime(2025, 4, 5, 14, 30, tzinfo=hk)).to_request()
    assert request.trans_date == "2025-04-05T14:30:00+08:00"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(InvalidSyncError, match="timezone-aware"):
        a_payment(trans_date=datetime(2025, 4, 5, 14, 30)).to_request()


def test_a_refund_needs_its_origin_and_a_payment_must_not_have_one() -> None:
    with pytest.raises(InvalidSyncError, match="originTransId: is required"):
        a_payment(direction="refund").to_request()
    with pytest.raises(InvalidSyncError, match="originTransId: must be empty"):
        a_payment(origin_trans_id="T-0").to_request()
    refund = a_payment(direction="refund", origin_trans_id="T-0", out_trans_id="R-1")
    assert refund.to_request().origin_trans_id == "T-0"


def test_a_goods_price_with_three_decimals_names_the_goods_field() -> None:
    bad = a_payment(goods=[Goods(code="RENEWAL", price=Decimal("1.005"))])
    with pytest.raises(InvalidSyncError, match=r"goodsInfoList\[0\]\.goodsPrice"):
        bad.to_request()


def test_more_than_ten_goods_is_refused_before_sending() -> None:
    goods = [Goods(code="NEW_CONTRACT", price=100)] * 11
    with pytest.raises(InvalidSyncError, match="at most 10 items"):
        a_payment(goods=goods).to_request()


def test_an_entity_id_that_does_not_match_its_type_is_refused() -> None:
    with pytest.raises(InvalidSyncError, match="entityId"):
        a_payment(entity_type="email", entity_id="not-an-email").to_request()


def test_a_transaction_is_immutable_even_when_given_a_list_of_goods() -> None:
    goods = [Goods(code="RENEWAL", price=1)]
    transaction = a_payment(goods=goods)
    goods.append(Goods(code="RENEWAL", price=2))
    assert len(transaction.goods) == 1
    assert isinstance(transaction.goods, tuple)
    assert datetime.now(UTC)
