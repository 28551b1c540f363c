"""Business rules of SPEC §4 and commission of §5, through the real endpoint and storage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update

from asap_sync.storage import ledger, ledger_sqlite
from asap_sync.storage.tables import (
    client_merchants,
    commission_lines,
    raw_requests,
    request_bindings,
    transactions,
)
from tests.integration.conftest import Platform
from tests.kit import VECTORS, register, sync_body

REFUND = {"transDirection": "refund", "originTransId": "T-1", "extendInfo": None}


def lines(platform: Platform, out_trans_id: str) -> list[tuple[str, int, int | None]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(
                commission_lines.c.rule_kind,
                commission_lines.c.commission_e4,
                commission_lines.c.reverses_line_id,
            )
            .join(transactions)
            .where(
                transactions.c.out_trans_id == out_trans_id,
                commission_lines.c.superseded_at.is_(None),
            )
            .order_by(commission_lines.c.line_no)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def test_the_seed_sample_pretty_printed_is_accepted_byte_for_byte(platform: Platform) -> None:
    raw = VECTORS["vectors"][0]["body"].encode()
    assert platform.send(raw).success
    assert lines(platform, "2160120033934460_RENEWAL20250909105104279487") == [
        ("rate", 24800 * 150, None)
    ]


def test_a_replay_with_the_same_content_succeeds_without_a_second_write(
    platform: Platform,
) -> None:
    body = sync_body()
    assert platform.send(body).success
    reordered = dict(reversed(list(body.items())))
    reordered["tradeAmt"] = json.dumps(body["tradeAmt"], indent=2)
    assert platform.send(reordered).success
    assert platform.count() == 1


def test_a_replay_with_other_content_is_an_idempotency_exception_naming_the_fields(
    platform: Platform,
) -> None:
    assert platform.send(sync_body()).success
    changed = sync_body(
        tradeAmt={"currency": "HKD", "value": "100"},
        extendInfo={
            "goodsInfoList": [
                {
                    "goodsCode": "RENEWAL",
                    "goodsName": "contract renewal",
                    "goodsPrice": {"currency": "HKD", "value": "100"},
                }
            ]
        },
    )
    result = platform.send(changed)
    assert result.error_code == "IDEMPOTENCY_EXCEPTION"
    assert result.error_context is not None
    assert "tradeAmt.value, extendInfo.goodsInfoList[0].goodsPrice.value" in result.error_context


def test_a_rejected_request_binds_nothing_and_can_be_fixed_under_the_same_request_id(
    platform: Platform,
) -> None:
    bad = sync_body(transDate="2024-12-31T23:59:59Z")  # just before the contract
    assert platform.send(bad).error_code == "INVALID_CONTRACT"
    with platform.engine.connect() as conn:
        assert conn.execute(select(request_bindings)).first() is None
    assert platform.send(sync_body()).success


def test_a_merchant_not_linked_to_the_client_is_invalid_merchant(platform: Platform) -> None:
    assert platform.send(sync_body(merchantId="other")).error_code == "INVALID_MERCHANT"


def test_a_new_transaction_older_than_six_months_is_too_late_with_its_deadline(
    platform: Platform,
) -> None:
    platform.advance(days=200)
    result = platform.send(sync_body())
    assert result.error_code == "TRANS_CALL_BACK_TIME_LIMIT"
    assert "2025-10-05" in (result.error_context or "")


def test_a_trans_date_more_than_five_minutes_ahead_is_illegal(platform: Platform) -> None:
    result = platform.send(sync_body(transDate="2025-04-20T10:06:00+08:00"))
    assert result.error_code == "REQUEST_PARAM_ILLEGAL"
    assert "transDate" in (result.error_context or "")


def test_an_identical_resend_under_a_new_request_id_succeeds_without_change(
    platform: Platform,
) -> None:
    assert platform.send(sync_body()).success
    assert platform.send(sync_body(requestId="req-2")).success
    assert platform.count() == 1


def test_a_resend_with_another_sub_merchant_is_invalid_merchant(platform: Platform) -> None:
    assert platform.send(sync_body()).success
    result = platform.send(sync_body(requestId="req-2", subMerchantId="999"))
    assert result.error_code == "INVALID_MERCHANT"


def test_a_resend_changing_the_amount_is_illegal_because_corrections_are_refunds(
    platform: Platform,
) -> None:
    assert platform.send(sync_body()).success
    result = platform.send(sync_body(requestId="req-2", tradeAmt={"currency": "HKD", "value": "1"}))
    assert result.error_code == "REQUEST_PARAM_ILLEGAL"
    assert "tradeAmt" in (result.error_context or "")


def test_a_goods_update_while_pending_replaces_the_commission_lines(platform: Platform) -> None:
    assert platform.send(sync_body()).success
    goods = {
        "goodsInfoList": [
            {"goodsCode": "NEW_CONTRACT", "goodsPrice": {"currency": "HKD", "value": "20000"}},
            {"goodsCode": "RENEWAL", "goodsPrice": {"currency": "HKD", "value": "4800"}},
        ]
    }
    assert platform.send(sync_body(requestId="req-2", extendInfo=goods)).success
    assert lines(platform, "T-1") == [("fixed", 5000 * 10000, None), ("rate", 4800 * 150, None)]


def test_a_goods_update_after_the_window_is_goods_call_back_time_limit(
    platform: Platform,
) -> None:
    assert platform.send(sync_body(transDate="2025-03-01T00:00:00Z")).success
    platform.advance(days=30)
    result = platform.send(
        sync_body(requestId="req-2", transDate="2025-03-01T00:00:00Z", storeName="renamed")
    )
    assert result.error_code == "GOODS_CALL_BACK_TIME_LIMIT"


def test_a_goods_update_of_a_processing_transaction_is_order_status_invalid(
    platform: Platform,
) -> None:
    assert platform.send(sync_body()).success
    with platform.engine.begin() as conn:
        conn.execute(update(transactions).values(status="PROCESSING"))
    result = platform.send(sync_body(requestId="req-2", storeName="renamed"))
    assert result.error_code == "ORDER_STATUS_INVALID"


def test_a_refund_of_an_unknown_origin_is_order_not_exist(platform: Platform) -> None:
    result = platform.send(sync_body(requestId="R-1", outTransId="R-1", **REFUND))
    assert result.error_code == "ORDER_NOT_EXIST"


def test_a_refund_of_another_linked_merchants_payment_is_invalid_merchant(engine: Engine) -> None:
    register(engine, merchants=("M1", "M2"))
    platform = Platform(engine)
    assert platform.send(sync_body(merchantId="M2")).success
    refund = sync_body(merchantId="M1", requestId="R-1", outTransId="R-1", **REFUND)
    assert platform.send(refund).error_code == "INVALID_MERCHANT"


def test_refunds_reverse_commission_in_proportion_and_the_last_one_exactly(
    platform: Platform,
) -> None:
    assert platform.send(sync_body(tradeAmt={"currency": "HKD", "value": "30000"})).success
    earned = 24800 * 150
    for n in range(3):
        refund = sync_body(
            requestId=f"R-{n}",
            outTransId=f"R-{n}",
            tradeAmt={"currency": "HKD", "value": "10000"},
            **REFUND,
        )
        assert platform.send(refund).success
    reversed_total = sum(e4 for n in range(3) for _, e4, _ in lines(platform, f"R-{n}"))
    assert reversed_total == -earned
    assert lines(platform, "R-0")[0][1] == -(earned // 3)
    assert all(ref is not None for n in range(3) for _, _, ref in lines(platform, f"R-{n}"))


def test_refunds_beyond_the_origin_amount_are_invalid_amount(platform: Platform) -> None:
    assert platform.send(sync_body()).success
    full = sync_body(requestId="R-1", outTransId="R-1", tradeAmt=None, **REFUND)
    assert platform.send(full).success  # no amount: refunds everything still unrefunded
    more = sync_body(
        requestId="R-2", outTransId="R-2", tradeAmt={"currency": "HKD", "value": "1"}, **REFUND
    )
    assert platform.send(more).error_code == "INVALID_AMOUNT"


def test_a_transaction_outside_every_contract_is_invalid_contract(platform: Platform) -> None:
    result = platform.send(sync_body(transDate="2024-12-31T15:59:59Z"))
    assert result.error_code == "INVALID_CONTRACT"


def test_goods_beyond_the_amount_threshold_are_invalid_amount(platform: Platform) -> None:
    goods = {
        "goodsInfoList": [
            {"goodsCode": "RENEWAL", "goodsPrice": {"currency": "HKD", "value": "224801"}}
        ]
    }
    assert platform.send(sync_body(extendInfo=goods)).error_code == "INVALID_AMOUNT"
    goods["goodsInfoList"][0]["goodsPrice"]["value"] = "224800"
    assert platform.send(sync_body(extendInfo=goods)).success


def test_a_currency_other_than_hkd_is_currency_not_support(platform: Platform) -> None:
    result = platform.send(sync_body(tradeAmt={"currency": "USD", "value": "100"}))
    assert result.error_code == "CURRENCY_NOT_SUPPORT"


def test_a_failure_half_way_is_a_signed_system_error_that_writes_nothing(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write, real_plan_json = ledger_sqlite.write, ledger.plan_json

    def write_then_fail(cursor: Any, syncs: Any, ids: Any) -> None:  # SQLite: every row, then
        real_write(cursor, syncs, ids)  # a failure
        raise RuntimeError("connection lost")

    def lines_without_contract(syncs: Any) -> str:  # PostgreSQL: the last insert fails
        rows = json.loads(real_plan_json(syncs))
        for row in rows:
            for line in row["lines"]:
                line["contract_id"] = None
        return json.dumps(rows)

    monkeypatch.setattr(ledger_sqlite, "write", write_then_fail)
    monkeypatch.setattr(ledger, "plan_json", lines_without_contract)
    result = platform.send(sync_body())
    assert result.error_code == "SYSTEM_ERROR"
    assert result.error_context == "System exception."
    assert platform.count() == 0
    with platform.engine.connect() as conn:
        assert conn.execute(select(request_bindings)).first() is None
        assert conn.execute(select(raw_requests)).first() is None
    monkeypatch.undo()
    assert platform.send(sync_body()).success  # the ledger's connection was replaced


def test_refunding_a_zero_amount_pay_reverses_its_fixed_commission_once(
    platform: Platform,
) -> None:
    goods = {
        "goodsInfoList": [
            {"goodsCode": "NEW_CONTRACT", "goodsPrice": {"currency": "HKD", "value": "0"}}
        ]
    }
    assert platform.send(sync_body(tradeAmt={"currency": "HKD", "value": "0"}, extendInfo=goods))
    refund = sync_body(requestId="R-0", outTransId="R-0", tradeAmt=None, **REFUND)
    assert platform.send(refund).success
    assert lines(platform, "R-0") == [("reversal", -5000 * 10000, lines_id(platform, "T-1"))]
    again = platform.send(sync_body(requestId="R-1", outTransId="R-1", tradeAmt=None, **REFUND))
    assert again.error_code == "INVALID_AMOUNT"
    assert again.error_context is not None and "already fully refunded" in again.error_context


def test_a_refund_without_trade_amount_of_a_fully_refunded_pay_is_invalid_amount(
    platform: Platform,
) -> None:
    assert platform.send(sync_body()).success
    whole = sync_body(requestId="R-1", outTransId="R-1", tradeAmt=None, **REFUND)
    assert platform.send(whole).success
    assert amount_of(platform, "R-1") == 24800
    for n in (2, 3):
        more = sync_body(requestId=f"R-{n}", outTransId=f"R-{n}", tradeAmt=None, **REFUND)
        result = platform.send(more)
        assert result.error_code == "INVALID_AMOUNT"
        assert result.error_context == (
            "T-1 is already fully refunded (248.00 HKD of 248.00 HKD): nothing remains to refund"
        )
    assert platform.count() == 2


def lines_id(platform: Platform, out_trans_id: str) -> int:
    with platform.engine.connect() as conn:
        return int(
            conn.execute(
                select(commission_lines.c.line_id)
                .join(transactions)
                .where(transactions.c.out_trans_id == out_trans_id)
            ).scalar_one()
        )


def amount_of(platform: Platform, out_trans_id: str) -> int:
    with platform.engine.connect() as conn:
        return int(
            conn.execute(
                select(transactions.c.amount_minor).where(
                    transactions.c.out_trans_id == out_trans_id
                )
            ).scalar_one()
        )


def goods_of(*prices: int) -> dict[str, Any]:
    return {
        "goodsInfoList": [
            {"goodsCode": "RENEWAL", "goodsPrice": {"currency": "HKD", "value": str(p)}}
            for p in prices
        ]
    }


def test_a_goods_update_of_a_pay_without_trade_amount_changes_its_amount(
    platform: Platform,
) -> None:
    assert platform.send(sync_body(tradeAmt=None, extendInfo=goods_of(10000))).success
    assert platform.send(
        sync_body(requestId="req-2", tradeAmt=None, extendInfo=goods_of(10000, 5000))
    ).success
    assert amount_of(platform, "T-1") == 15000
    assert [e4 for _, e4, _ in lines(platform, "T-1")] == [10000 * 150, 5000 * 150]


def test_a_goods_update_below_what_was_already_refunded_is_invalid_amount(
    platform: Platform,
) -> None:
    assert platform.send(sync_body(tradeAmt=None, extendInfo=goods_of(10000))).success
    refund = sync_body(
        requestId="R-1", outTransId="R-1", tradeAmt={"currency": "HKD", "value": "8000"}, **REFUND
    )
    assert platform.send(refund).success
    shrunk = sync_body(requestId="req-2", tradeAmt=None, extendInfo=goods_of(5000))
    result = platform.send(shrunk)
    assert result.error_code == "INVALID_AMOUNT"
    assert "80.00" in (result.error_context or "")
    assert amount_of(platform, "T-1") == 10000


def test_a_goods_update_recomputes_the_reversals_of_pending_refunds(platform: Platform) -> None:
    assert platform.send(sync_body(tradeAmt=None, extendInfo=goods_of(10000))).success
    refund = sync_body(
        requestId="R-1", outTransId="R-1", tradeAmt={"currency": "HKD", "value": "5000"}, **REFUND
    )
    assert platform.send(refund).success
    assert platform.send(
        sync_body(requestId="req-2", tradeAmt=None, extendInfo=goods_of(20000))
    ).success
    assert [e4 for _, e4, _ in lines(platform, "R-1")] == [-(20000 * 150) // 4]


def test_idempotency_comes_first_so_a_bound_request_replays_even_after_an_unlink(
    platform: Platform,
) -> None:
    assert platform.send(sync_body()).success
    with platform.engine.begin() as conn:
        conn.execute(delete(client_merchants))
    assert platform.send(sync_body()).success
    assert platform.send(sync_body(requestId="req-2")).error_code == "INVALID_MERCHANT"


def test_an_unlinked_merchant_is_reported_before_a_late_transaction(platform: Platform) -> None:
    platform.advance(days=400)
    assert platform.send(sync_body(merchantId="other")).error_code == "INVALID_MERCHANT"


def test_a_late_transaction_is_reported_before_a_missing_contract(platform: Platform) -> None:
    platform.advance(days=400)
    late_and_uncovered = sync_body(transDate="2024-12-01T00:00:00Z")
    assert platform.send(late_and_uncovered).error_code == "TRANS_CALL_BACK_TIME_LIMIT"


def test_an_unknown_origin_is_reported_before_a_goods_threshold_breach(platform: Platform) -> None:
    refund = sync_body(
        requestId="R-1",
        outTransId="R-1",
        transDirection="refund",
        originTransId="nope",
        tradeAmt={"currency": "HKD", "value": "1"},
        extendInfo=goods_of(900000),
    )
    assert platform.send(refund).error_code == "ORDER_NOT_EXIST"
