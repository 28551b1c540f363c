"""Idempotency decisions, late and future transactions, re-sends and contract overlap (SPEC §4)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asap_sync.domain.contracts import check_no_overlap
from asap_sync.domain.errors import (
    CommissionNotPending,
    ContractOverlap,
    GoodsUpdateTooLate,
    IdempotencyConflict,
    IllegalParameter,
    ImmutableFieldChanged,
    MerchantMismatch,
    TransactionTooLate,
)
from asap_sync.domain.idempotency import check_replay, differing_fields
from asap_sync.domain.model import CommissionStatus, Contract, SyncCommand, Transaction
from asap_sync.domain.transactions import (
    Resend,
    add_months,
    check_not_in_future,
    check_not_late,
    check_update_allowed,
    classify_resend,
)
from asap_sync.wire import ResultCode

TICK = timedelta(microseconds=1)
HKT = timezone(timedelta(hours=8))
TRANS_DATE = datetime(2025, 4, 5, 6, 30, tzinfo=UTC)


def content(**fields: Any) -> dict[str, Any]:
    """Normalised business content as the service stores it; ``None`` removes a field."""
    data: dict[str, Any] = {
        "merchantId": "2160120033934460",
        "subMerchantId": "3858195171",
        "requestId": "req-1",
        "outTransId": "T-1",
        "entityId": "12345678900",
        "entityType": "phone",
        "transType": "transaction",
        "transDate": "2025-04-05T06:30:00+00:00",
        "transStatus": "SUCCESS",
        "tradeAmt": {"currency": "HKD", "value": "24800"},
        "extendInfo": {
            "goodsInfoList": [
                {
                    "goodsCode": "RENEWAL",
                    "goodsName": "renewal",
                    "goodsPrice": {"currency": "HKD", "value": "24800"},
                }
            ]
        },
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


# --- differing_fields and replays ---------------------------------------------------------


def test_identical_contents_differ_nowhere() -> None:
    assert differing_fields(content(), content()) == []


def test_key_order_does_not_matter() -> None:
    assert differing_fields(content(), dict(reversed(list(content().items())))) == []


def test_a_changed_nested_leaf_is_named_by_its_dotted_path() -> None:
    new = content(tradeAmt={"currency": "HKD", "value": "1"})
    assert differing_fields(content(), new) == ["tradeAmt.value"]


def test_a_changed_leaf_inside_a_list_is_named_with_its_index() -> None:
    new = content()
    new["extendInfo"]["goodsInfoList"][0]["goodsPrice"]["value"] = "1"
    assert differing_fields(content(), new) == ["extendInfo.goodsInfoList[0].goodsPrice.value"]


@pytest.mark.parametrize(
    ("old", "new"), [(content(), content(storeId="S")), (content(storeId="S"), content())]
)
def test_an_added_or_removed_key_is_named(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert differing_fields(old, new) == ["storeId"]


def test_an_added_or_removed_list_item_is_named_by_its_index() -> None:
    two = content()
    two["extendInfo"]["goodsInfoList"].append({"goodsCode": "NEW_CONTRACT"})
    assert differing_fields(content(), two) == ["extendInfo.goodsInfoList[1]"]
    assert differing_fields(two, content()) == ["extendInfo.goodsInfoList[1]"]


def test_list_order_matters() -> None:
    assert differing_fields({"l": [1, 2]}, {"l": [2, 1]}) == ["l[0]", "l[1]"]


def test_a_value_that_changes_shape_is_named_once() -> None:
    assert differing_fields(content(), content(tradeAmt="24800")) == ["tradeAmt"]
    assert differing_fields({"a": [1]}, {"a": {"0": 1}}) == ["a"]


def test_differing_fields_come_in_the_old_contents_order_then_added_keys() -> None:
    old = {"b": 1, "a": 1, "c": 1}
    new = {"z": 1, "c": 2, "a": 2, "b": 2}
    assert differing_fields(old, new) == ["b", "a", "c", "z"]


def test_a_replay_with_the_same_content_is_answered_again() -> None:
    check_replay(content(), dict(reversed(list(content().items()))))


def test_a_replay_with_different_content_is_an_idempotency_conflict_listing_the_fields() -> None:
    new = content(tradeAmt={"currency": "HKD", "value": "1"})
    new["extendInfo"]["goodsInfoList"][0]["goodsPrice"]["value"] = "1"
    with pytest.raises(IdempotencyConflict) as caught:
        check_replay(content(), new)
    assert caught.value.code is ResultCode.IDEMPOTENCY_EXCEPTION
    assert caught.value.context.endswith(
        ": tradeAmt.value, extendInfo.goodsInfoList[0].goodsPrice.value"
    )


KEYS = st.text(alphabet="abcdefgXYZ_", min_size=1, max_size=6)
LEAVES = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)
JSON_OBJECTS = st.dictionaries(KEYS, JSON_VALUES, min_size=1, max_size=5)


@settings(max_examples=200)
@given(JSON_VALUES)
def test_any_json_like_value_does_not_differ_from_itself_or_a_deep_copy(value: Any) -> None:
    assert differing_fields(value, value) == []
    assert differing_fields(value, copy.deepcopy(value)) == []


def _leaf_paths(value: Any, prefix: str = "") -> list[tuple[str, tuple[Any, ...]]]:
    """Every scalar leaf as (path as differing_fields writes it, keys to reach it)."""
    if isinstance(value, Mapping):
        items = [(f"{prefix}.{k}" if prefix else k, k, v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{prefix}[{i}]", i, v) for i, v in enumerate(value)]
    else:
        return [(prefix, ())]
    return [
        (path, (key, *rest))
        for where, key, child in items
        for path, rest in _leaf_paths(child, where)
    ]


@settings(max_examples=200)
@given(JSON_OBJECTS, st.data())
def test_changing_any_one_leaf_is_reported_as_exactly_that_path(
    value: dict[str, Any], data: st.DataObject
) -> None:
    leaves = [(path, keys) for path, keys in _leaf_paths(value) if keys]
    if not leaves:
        return
    path, keys = data.draw(st.sampled_from(leaves))
    changed = copy.deepcopy(value)
    parent = changed
    for key in keys[:-1]:
        parent = parent[key]
    old = parent[keys[-1]]
    parent[keys[-1]] = old + "!" if isinstance(old, str) else "changed"
    assert differing_fields(value, changed) == [path]
    with pytest.raises(IdempotencyConflict, match=re.escape(path)):
        check_replay(value, changed)


# --- dates: lateness, future ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2025, 1, 31), 1, datetime(2025, 2, 28)),
        (datetime(2024, 1, 31), 1, datetime(2024, 2, 29)),
        (datetime(2024, 2, 29), 12, datetime(2025, 2, 28)),
        (datetime(2024, 2, 29), 48, datetime(2028, 2, 29)),
        (datetime(2024, 8, 31), 6, datetime(2025, 2, 28)),
        (datetime(2025, 10, 31), 6, datetime(2026, 4, 30)),
        (datetime(2025, 12, 15), 1, datetime(2026, 1, 15)),
        (datetime(2025, 7, 15), 6, datetime(2026, 1, 15)),
        (datetime(2025, 3, 31), -1, datetime(2025, 2, 28)),
        (datetime(2025, 1, 15), -1, datetime(2024, 12, 15)),
        (datetime(2000, 1, 31), 1, datetime(2000, 2, 29)),
        (datetime(1900, 1, 31), 1, datetime(1900, 2, 28)),
        (datetime(2025, 5, 31), 0, datetime(2025, 5, 31)),
        (datetime(2025, 5, 31), 24, datetime(2027, 5, 31)),
    ],
)
def test_add_months_clamps_to_the_end_of_shorter_months_and_knows_leap_years(
    start: datetime, months: int, expected: datetime
) -> None:
    assert add_months(start, months) == expected


def test_add_months_keeps_the_time_of_day_and_the_zone() -> None:
    start = datetime(2025, 8, 31, 23, 59, 59, 999_999, tzinfo=HKT)
    assert add_months(start, 6) == datetime(2026, 2, 28, 23, 59, 59, 999_999, tzinfo=HKT)


def test_a_transaction_arriving_exactly_at_its_deadline_is_not_late() -> None:
    check_not_late(TRANS_DATE, add_months(TRANS_DATE, 6), 6)


def test_a_transaction_arriving_one_microsecond_after_its_deadline_is_too_late() -> None:
    deadline = add_months(TRANS_DATE, 6)
    with pytest.raises(TransactionTooLate) as caught:
        check_not_late(TRANS_DATE, deadline + TICK, 6)
    assert caught.value.code is ResultCode.TRANS_CALL_BACK_TIME_LIMIT
    assert deadline.isoformat() in caught.value.context


def test_the_late_limit_is_configurable_in_months() -> None:
    check_not_late(TRANS_DATE, add_months(TRANS_DATE, 12), 12)
    with pytest.raises(TransactionTooLate):
        check_not_late(TRANS_DATE, add_months(TRANS_DATE, 1) + TICK, 1)


@pytest.mark.parametrize("ahead", [timedelta(0), timedelta(minutes=5), -timedelta(days=400)])
def test_a_trans_date_up_to_five_minutes_ahead_of_the_clock_is_accepted(ahead: timedelta) -> None:
    check_not_in_future(TRANS_DATE + ahead, TRANS_DATE)


def test_a_trans_date_more_than_five_minutes_ahead_is_illegal() -> None:
    with pytest.raises(IllegalParameter) as caught:
        check_not_in_future(TRANS_DATE + timedelta(minutes=5) + TICK, TRANS_DATE)
    assert caught.value.code is ResultCode.REQUEST_PARAM_ILLEGAL
    assert caught.value.context.startswith("transDate: ")


def test_the_future_check_compares_instants_across_zones() -> None:
    local = (TRANS_DATE + timedelta(minutes=5)).astimezone(HKT)
    check_not_in_future(local, TRANS_DATE)
    with pytest.raises(IllegalParameter):
        check_not_in_future(local + TICK, TRANS_DATE)


# --- re-sends of a stored transaction -------------------------------------------------------


def stored(
    *,
    status: CommissionStatus = CommissionStatus.PENDING,
    trans_date: datetime = TRANS_DATE,
    **fields: Any,
) -> Transaction:
    return Transaction(
        transaction_id=1,
        merchant_id="2160120033934460",
        out_trans_id="T-1",
        direction="pay",
        trans_date=trans_date,
        amount_minor=24800,
        status=status,
        content=content(**fields),
    )


def resent(**fields: Any) -> SyncCommand:
    return SyncCommand(
        client_id="C",
        request_id=str(fields.get("requestId", "req-1")),
        merchant_id="2160120033934460",
        out_trans_id="T-1",
        direction="pay",
        trans_date=TRANS_DATE,
        content=content(**fields),
    )


def test_an_identical_resend_is_identical() -> None:
    assert classify_resend(stored(), resent()) is Resend.IDENTICAL


def test_a_resend_differing_only_in_request_id_is_identical() -> None:
    assert classify_resend(stored(), resent(requestId="req-2")) is Resend.IDENTICAL


@pytest.mark.parametrize(
    "fields",
    [{"subMerchantId": "other"}, {"subMerchantId": None}, {"storeId": "S-9"}],
    ids=["subMerchantId changed", "subMerchantId removed", "storeId added"],
)
def test_a_resend_with_other_merchant_information_is_invalid_merchant(
    fields: dict[str, Any],
) -> None:
    with pytest.raises(MerchantMismatch) as caught:
        classify_resend(stored(), resent(**fields))
    assert caught.value.code is ResultCode.INVALID_MERCHANT
    assert next(iter(fields)) in caught.value.context


IMMUTABLE_CHANGES = {
    "transDirection": {"transDirection": "refund"},
    "originTransId": {"originTransId": "T-0"},
    "entityType": {"entityType": "userId"},
    "entityId": {"entityId": "98765432100"},
    "entityId removed": {"entityId": None},
    "transDate": {"transDate": "2025-04-05T06:30:01+00:00"},
    "tradeAmt": {"tradeAmt": {"currency": "HKD", "value": "24801"}},
    "tradeAmt removed": {"tradeAmt": None},
}


@pytest.mark.parametrize("fields", IMMUTABLE_CHANGES.values(), ids=IMMUTABLE_CHANGES.keys())
def test_a_resend_changing_an_immutable_field_is_illegal_and_names_it(
    fields: dict[str, Any],
) -> None:
    with pytest.raises(ImmutableFieldChanged) as caught:
        classify_resend(stored(), resent(**fields))
    assert caught.value.code is ResultCode.REQUEST_PARAM_ILLEGAL
    assert caught.value.context.startswith(f"{next(iter(fields))}: cannot change")


def test_merchant_information_is_checked_before_immutable_fields() -> None:
    with pytest.raises(MerchantMismatch):
        classify_resend(stored(), resent(storeId="S-9", tradeAmt=None))


def test_all_changed_immutable_fields_are_named() -> None:
    with pytest.raises(ImmutableFieldChanged) as caught:
        classify_resend(stored(), resent(entityType="userId", transDate="2025-04-06T00:00:00Z"))
    assert caught.value.context.startswith("entityType, transDate: cannot change")


UPDATES = {
    "goods price": {
        "extendInfo": {
            "goodsInfoList": [
                {"goodsCode": "RENEWAL", "goodsPrice": {"currency": "HKD", "value": "100"}}
            ]
        }
    },
    "goods removed": {"extendInfo": None},
    "store name": {"storeName": "Central"},
    "merchant name": {"merchantName": "ACME"},
    "transId": {"transId": "ALIPAY-1"},
}


@pytest.mark.parametrize("fields", UPDATES.values(), ids=UPDATES.keys())
def test_a_resend_changing_goods_or_descriptive_fields_is_an_update(fields: dict[str, Any]) -> None:
    assert classify_resend(stored(), resent(requestId="req-2", **fields)) is Resend.UPDATE


WINDOW = timedelta(days=30)


def test_an_update_exactly_at_the_end_of_the_goods_window_is_allowed() -> None:
    check_update_allowed(stored(), TRANS_DATE + WINDOW, WINDOW)


def test_an_update_one_microsecond_after_the_goods_window_is_too_late() -> None:
    with pytest.raises(GoodsUpdateTooLate) as caught:
        check_update_allowed(stored(), TRANS_DATE + WINDOW + TICK, WINDOW)
    assert caught.value.code is ResultCode.GOODS_CALL_BACK_TIME_LIMIT
    assert (TRANS_DATE + WINDOW).isoformat() in caught.value.context


def test_the_goods_window_is_the_one_given_per_contract() -> None:
    week = timedelta(days=7)
    check_update_allowed(stored(), TRANS_DATE + week, week)
    with pytest.raises(GoodsUpdateTooLate):
        check_update_allowed(stored(), TRANS_DATE + week + TICK, week)


@pytest.mark.parametrize("status", [CommissionStatus.PROCESSING, CommissionStatus.ASSIGNED])
def test_an_update_of_a_transaction_whose_commission_is_not_pending_is_order_status_invalid(
    status: CommissionStatus,
) -> None:
    with pytest.raises(CommissionNotPending) as caught:
        check_update_allowed(stored(status=status), TRANS_DATE, WINDOW)
    assert caught.value.code is ResultCode.ORDER_STATUS_INVALID
    assert status.value in caught.value.context


def test_the_status_is_checked_before_the_goods_window() -> None:
    with pytest.raises(CommissionNotPending):
        check_update_allowed(
            stored(status=CommissionStatus.ASSIGNED), TRANS_DATE + WINDOW * 2, WINDOW
        )


# --- contract overlap -----------------------------------------------------------------------

D = [datetime(2025, m, 1, tzinfo=UTC) for m in range(1, 13)]


def contract(
    contract_id: str, valid_from: datetime, valid_to: datetime | None, merchant: str = "M-1"
) -> Contract:
    return Contract(
        contract_id=contract_id,
        merchant_id=merchant,
        valid_from=valid_from,
        valid_to=valid_to,
        rules={},
    )


def test_adjacent_contracts_do_not_overlap() -> None:
    check_no_overlap(contract("B", D[3], D[6]), [contract("A", D[0], D[3])])
    check_no_overlap(contract("A", D[0], D[3]), [contract("B", D[3], D[6])])
    check_no_overlap(
        contract("C", D[6], None), [contract("A", D[0], D[3]), contract("B", D[3], D[6])]
    )


@pytest.mark.parametrize(
    ("new", "other"),
    [
        (contract("B", D[2], D[6]), contract("A", D[0], D[3])),
        (contract("B", D[0], D[3]), contract("A", D[2], D[6])),
        (contract("B", D[1], D[2]), contract("A", D[0], D[6])),
        (contract("B", D[0], D[9]), contract("A", D[3], D[4])),
        (contract("B", D[0], D[3]), contract("A", D[0], D[3])),
        (contract("B", D[5], D[6]), contract("A", D[0], None)),
        (contract("B", D[0], None), contract("A", D[5], D[6])),
        (contract("B", D[9], None), contract("A", D[0], None)),
    ],
    ids=[
        "overlaps the end",
        "overlaps the start",
        "inside",
        "around",
        "same period",
        "inside an open end",
        "open end over a later one",
        "two open ends",
    ],
)
def test_overlapping_contracts_of_one_merchant_are_refused(new: Contract, other: Contract) -> None:
    with pytest.raises(ContractOverlap, match="overlaps contract A"):
        check_no_overlap(new, [other])


def test_contracts_of_other_merchants_may_overlap() -> None:
    check_no_overlap(contract("B", D[0], None), [contract("A", D[0], None, merchant="M-2")])


def test_a_contract_does_not_overlap_its_own_earlier_version() -> None:
    check_no_overlap(contract("A", D[0], D[6]), [contract("A", D[0], D[3])])


@pytest.mark.parametrize("valid_to", [D[0], D[0] - TICK])
def test_a_contract_must_end_after_it_starts(valid_to: datetime) -> None:
    with pytest.raises(ContractOverlap, match="after valid_from"):
        check_no_overlap(contract("A", D[0], valid_to), [])
