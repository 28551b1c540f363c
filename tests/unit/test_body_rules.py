"""parse_sync_body against every rule of SPEC §3, with the exact field path in errorContext."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asap_sync.wire import BodyError, ResultCode, SyncRequest, dump_sync_body, parse_sync_body

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "alipay-sdk-vectors.json").read_text("utf-8")
)["vectors"]
SEED_BODIES = [v["body"] for v in VECTORS if v["kind"] == "request"]
MONEY_RULE = "must be a natural number in minor units"
GOODS0 = "extendInfo.goodsInfoList[0]"


def price(value: Any = "24800", currency: Any = "HKD") -> dict[str, Any]:
    return {"currency": currency, "value": value}


def goods(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "goodsId": "G-1",
        "goodsCode": "RENEWAL",
        "goodsName": "contract renewal",
        "goodsPrice": price(),
    }
    item.update(fields)
    return {k: v for k, v in item.items() if v is not None}


def body(**fields: Any) -> dict[str, Any]:
    """A valid pay body in the seed's shape; a field given as ``None`` is removed."""
    data: dict[str, Any] = {
        "merchantId": "2160120033934460",
        "subMerchantId": "3858195171",
        "requestId": "req-1",
        "outTransId": "T-1",
        "transId": "",
        "entityId": "12345678900",
        "entityType": "phone",
        "transType": "transaction",
        "transDate": "2025-04-05T06:30:00Z",
        "transStatus": "SUCCESS",
        "tradeAmt": price(),
        "extendInfo": {"goodsInfoList": [goods()]},
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def with_goods(*items: dict[str, Any]) -> dict[str, Any]:
    return body(extendInfo={"goodsInfoList": list(items)})


def encode(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def parse(data: dict[str, Any]) -> SyncRequest:
    return parse_sync_body(encode(data))


def rejected(raw: bytes, code: ResultCode = ResultCode.REQUEST_PARAM_ILLEGAL) -> str:
    """The errorContext of a rejected body; checks the code and that it reads as field: rule."""
    with pytest.raises(BodyError) as caught:
        parse_sync_body(raw)
    assert caught.value.code is code
    context = caught.value.context
    assert re.match(r"^[A-Za-z]+(\.[A-Za-z]+|\[\d+\])*: \S", context), context
    assert "\n" not in context and "pydantic" not in context and "Traceback" not in context
    return context


def illegal(data: dict[str, Any]) -> str:
    return rejected(encode(data))


# --- the body as a whole ------------------------------------------------------------------


@pytest.mark.parametrize("raw", SEED_BODIES, ids=[v["name"] for v in VECTORS[:3]])
def test_the_seed_sample_parses_with_string_encoded_objects_and_an_empty_trans_id(
    raw: str,
) -> None:
    request = parse_sync_body(raw.encode())
    assert request.merchant_id == "2160120033934460"
    assert request.trans_id is None
    assert request.trade_amt is not None and request.trade_amt.minor == 24800
    assert request.goods[0].goods_name == "联通合约续约"
    assert request.goods[0].goods_price.minor == 24800
    assert request.direction == "pay"


def test_the_pretty_and_compact_seed_samples_mean_the_same() -> None:
    first, *others = (parse_sync_body(raw.encode()).canonical() for raw in SEED_BODIES)
    assert all(other == first for other in others)


def test_a_duplicate_top_level_key_is_illegal() -> None:
    raw = encode(body())[:-1] + b',"merchantId":"other"}'
    assert rejected(raw) == "body: duplicate key 'merchantId'"


def test_a_duplicate_key_inside_a_nested_object_is_illegal() -> None:
    raw = (
        encode(body(tradeAmt=None))[:-1]
        + b',"tradeAmt":{"currency":"HKD","value":"1","value":"2"}}'
    )
    assert rejected(raw) == "body: duplicate key 'value'"


def test_a_duplicate_key_inside_a_json_in_string_trade_amt_is_illegal() -> None:
    data = body(tradeAmt='{"currency":"HKD","value":"1","currency":"HKD"}')
    assert illegal(data) == "tradeAmt: duplicate key 'currency' in the JSON string"


def test_a_duplicate_key_deep_inside_a_json_in_string_extend_info_is_illegal() -> None:
    inner = '{"goodsInfoList":[{"goodsCode":"RENEWAL","goodsCode":"RENEWAL","goodsPrice":{}}]}'
    assert (
        illegal(body(extendInfo=inner))
        == "extendInfo: duplicate key 'goodsCode' in the JSON string"
    )


@pytest.mark.parametrize(
    "raw",
    [
        encode(body(storeName="caf\u00e9")).replace("caf\u00e9".encode(), b"caf\xe9"),
        b"\xff\xfe" + json.dumps(body()).encode("utf-16-le"),
        b'{"merchantId":"\xc3"}',
    ],
    ids=["latin-1", "utf-16", "truncated sequence"],
)
def test_a_body_that_is_not_valid_utf8_is_illegal(raw: bytes) -> None:
    assert rejected(raw) == "body: must be valid UTF-8"


@pytest.mark.parametrize("raw", [b"", b"{", b"{'a': 1}", b'{"a":1}x', b"nul"])
def test_a_body_that_is_not_json_is_illegal(raw: bytes) -> None:
    assert rejected(raw) == "body: must be valid JSON"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_illegal_even_in_an_ignored_field(constant: str) -> None:
    raw = encode(body())[:-1] + f',"ignored":{constant}}}'.encode()
    assert rejected(raw) == f"body: {constant} is not a JSON number (RFC 8259)"


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1" * 41, "0." + "1" * 40])
def test_a_number_beyond_what_the_platform_holds_is_illegal_even_in_an_ignored_field(
    number: str,
) -> None:
    raw = encode(body())[:-1] + f',"ignored":{number}}}'.encode()
    assert rejected(raw).startswith("body: a number ")


def test_a_body_nested_a_thousand_levels_deep_in_an_ignored_field_is_illegal() -> None:
    raw = encode(body())[:-1] + b',"ignored":' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert rejected(raw) == "body: nested deeper than 64 levels"


def test_a_body_nested_sixty_four_levels_deep_is_accepted() -> None:
    raw = encode(body())[:-1] + b',"ignored":' + b"[" * 63 + b"]" * 63 + b"}"
    parse_sync_body(raw)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    parse_sync_body(encode(body(storeName="[" * 200 + '\\"{' * 10)))


def test_a_deeply_nested_json_string_in_extend_info_is_illegal_naming_the_field() -> None:
    nested = '{"goodsInfoList":' + "[" * 1000 + "]" * 1000 + "}"
    assert illegal(body(extendInfo=nested)) == (
        "extendInfo: nested deeper than 64 levels in the JSON string"
    )


def test_nan_inside_a_json_string_trade_amt_is_illegal_naming_the_field() -> None:
    assert illegal(body(tradeAmt='{"currency":"HKD","value":"1","x":NaN}')) == (
        "tradeAmt: NaN is not a JSON number (RFC 8259) in the JSON string"
    )


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b'"text"', b"1", b"null", b"true"])
def test_json_that_is_not_an_object_is_illegal(raw: bytes) -> None:
    assert rejected(raw) == "body: must be a JSON object"


def test_unknown_fields_are_ignored_at_every_level() -> None:
    extended = body(
        futureField={"x": 1},
        tradeAmt={**price(), "precision": 2},
        extendInfo={"goodsInfoList": [{**goods(), "sku": "abc"}], "campaign": "x"},
    )
    assert parse(extended).canonical() == parse(body()).canonical()


@pytest.mark.parametrize("trade_as_string", [False, True])
@pytest.mark.parametrize("extend_as_string", [False, True])
def test_trade_amt_and_extend_info_mean_the_same_as_objects_or_as_json_strings(
    trade_as_string: bool, extend_as_string: bool
) -> None:
    data = body()
    if trade_as_string:
        data["tradeAmt"] = json.dumps(data["tradeAmt"], indent=2)
    if extend_as_string:
        data["extendInfo"] = json.dumps(data["extendInfo"], ensure_ascii=True)
    request = parse(data)
    assert request.canonical() == parse(body()).canonical()
    assert request == parse(body())


def test_key_order_and_whitespace_do_not_change_the_canonical_content() -> None:
    data = body()
    reordered = dict(reversed(list(data.items())))
    pretty = json.dumps(reordered, indent=4).encode()
    assert parse_sync_body(pretty).canonical() == parse(data).canonical()


def test_dumped_canonical_body_parses_back_to_the_same_request() -> None:
    request = parse_sync_body(SEED_BODIES[0].encode())
    assert parse_sync_body(dump_sync_body(request)) == request


# --- empty optionals, required fields -----------------------------------------------------

OPTIONAL_TOP_LEVEL = [
    "merchantName",
    "merchantCategory",
    "subMerchantId",
    "subMerchantName",
    "subMerchantCategory",
    "storeId",
    "storeName",
    "storeCategory",
    "transId",
    "entityId",
    "originTransId",
    "transStatus",
    "transDirection",
    "tradeAmt",
    "extendInfo",
]


@pytest.mark.parametrize("field", OPTIONAL_TOP_LEVEL)
def test_an_empty_string_in_an_optional_field_means_absent(field: str) -> None:
    assert parse(body(**{field: ""})).canonical() == parse(body(**{field: None})).canonical()
    assert field not in parse(body(**{field: ""})).canonical()


@pytest.mark.parametrize("field", ["goodsId", "goodsName"])
def test_an_empty_optional_string_in_a_goods_item_means_absent(field: str) -> None:
    assert parse(with_goods(goods(**{field: ""}))) == parse(with_goods(goods(**{field: None})))


def test_an_empty_or_null_goods_list_means_no_goods() -> None:
    # Both used to escape as a TypeError from pydantic (answered SYSTEM_ERROR).
    assert parse(body(extendInfo={"goodsInfoList": ""})).goods == []
    assert parse(body(extendInfo={"goodsInfoList": None})).goods == []
    assert parse(body(extendInfo='{"goodsInfoList":null}')).goods == []
    assert parse(body(extendInfo={})).goods == []
    assert parse(body(extendInfo={"goodsInfoList": []})).goods == []
    assert parse(body(extendInfo=None)).goods == []


def test_absent_trans_direction_means_pay_and_absent_trans_status_is_allowed() -> None:
    request = parse(body(transDirection=None, transStatus=None))
    assert request.direction == "pay"
    assert request.trans_status is None


@pytest.mark.parametrize(
    "field", ["merchantId", "requestId", "outTransId", "entityType", "transType", "transDate"]
)
def test_a_missing_required_field_is_named(field: str) -> None:
    assert illegal(body(**{field: None})) == f"{field}: is required"


@pytest.mark.parametrize("field", ["merchantId", "requestId", "outTransId"])
def test_an_empty_required_id_is_illegal(field: str) -> None:
    assert illegal(body(**{field: ""})) == f"{field}: must not be empty"


@pytest.mark.parametrize(
    ("field", "rule"),
    [
        ("entityType", "must be one of"),
        ("transType", "must be one of"),
        ("transDate", "must be ISO 8601 with a zone offset or Z"),
    ],
)
def test_an_empty_required_enumeration_or_date_is_illegal(field: str, rule: str) -> None:
    assert illegal(body(**{field: ""})).startswith(f"{field}: {rule}")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (body(merchantId=2160120033934460), "merchantId: must be a string"),
        (body(transId=12), "transId: must be a string"),
        (body(storeName=["a"]), "storeName: must be a string"),
        (body(tradeAmt=5), "tradeAmt: must be an object or a string holding a JSON object"),
        (body(tradeAmt="[1]"), "tradeAmt: must be an object or a string holding a JSON object"),
        (body(tradeAmt="{oops"), "tradeAmt: must be an object or a string holding a JSON object"),
        (body(extendInfo="42"), "extendInfo: must be an object or a string holding a JSON object"),
        (body(extendInfo={"goodsInfoList": "x"}), "extendInfo.goodsInfoList: must be a list"),
        (body(extendInfo={"goodsInfoList": {}}), "extendInfo.goodsInfoList: must be a list"),
        (with_goods("RENEWAL"), f"{GOODS0}: must be an object or a string holding a JSON object"),
    ],
)
def test_a_field_of_the_wrong_json_type_is_named(data: dict[str, Any], expected: str) -> None:
    assert illegal(data) == expected


# --- money ------------------------------------------------------------------------------------

BAD_VALUES = [
    "0123",
    "00",
    "-1",
    "+1",
    "1e3",
    "1E3",
    "248.00",
    "1.",
    ".5",
    "",
    " 1",
    "1 ",
    "1,000",
    "1_000",
    "0x10",
    "١٢",
    "１２",
    "1" * 19,
    "24800\n",
]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_trade_amount_value_that_is_not_a_natural_number_in_minor_units_is_illegal(
    value: str,
) -> None:
    assert illegal(body(tradeAmt=price(value))).startswith(f"tradeAmt.value: {MONEY_RULE}")
    in_string = body(tradeAmt=json.dumps(price(value)))
    assert illegal(in_string).startswith(f"tradeAmt.value: {MONEY_RULE}")


@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_goods_price_value_that_is_not_a_natural_number_in_minor_units_is_illegal(
    value: str,
) -> None:
    data = with_goods(goods(), goods(goodsPrice=price(value)))
    context = illegal(data)
    assert context.startswith(f"extendInfo.goodsInfoList[1].goodsPrice.value: {MONEY_RULE}")


@pytest.mark.parametrize("value", [24800, 248.0, 0, True, None, ["1"]])
def test_a_money_value_that_is_not_a_json_string_is_illegal(value: Any) -> None:
    assert illegal(body(tradeAmt=price(value))) == "tradeAmt.value: must be a string"
    in_string = body(tradeAmt=json.dumps(price(value)))
    assert illegal(in_string) == "tradeAmt.value: must be a string"


@pytest.mark.parametrize(
    ("value", "minor"), [("0", 0), ("1", 1), ("24800", 24800), ("9" * 18, 10**18 - 1)]
)
def test_natural_numbers_of_up_to_eighteen_digits_are_minor_units(value: str, minor: int) -> None:
    request = parse(body(tradeAmt=price(value)))
    assert request.trade_amt is not None
    assert request.trade_amt.minor == minor


@settings(max_examples=150)
@given(st.integers(0, 10**18 - 1))
def test_any_natural_number_string_of_at_most_eighteen_digits_parses_to_that_int(n: int) -> None:
    request = parse(body(tradeAmt=price(str(n)), extendInfo=None))
    assert request.trade_amt is not None
    assert request.trade_amt.minor == n
    assert request.canonical()["tradeAmt"]["value"] == str(n)


def _is_minor_units(text: str) -> bool:
    """The oracle, written independently of the parser's regular expression."""
    digits = text != "" and all(c in "0123456789" for c in text)
    return digits and len(text) <= 18 and (text == "0" or not text.startswith("0"))


@settings(max_examples=200)
@given(
    st.one_of(
        st.from_regex(r"0[0-9]{1,17}", fullmatch=True),
        st.from_regex(r"[0-9]{0,5}[^0-9][0-9]{0,5}", fullmatch=True),
        st.from_regex(r"[1-9][0-9]{0,5}\s", fullmatch=True),
        st.from_regex(r"[1-9][0-9]{18,20}", fullmatch=True),
        st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20),
    )
)
def test_any_value_with_a_leading_zero_a_non_digit_or_19_digits_is_refused(value: str) -> None:
    data = body(tradeAmt=price(value), extendInfo=None)
    if _is_minor_units(value):
        amount = parse(data).trade_amt
        assert amount is not None and amount.minor == int(value)
    else:
        assert illegal(data).startswith(f"tradeAmt.value: {MONEY_RULE}")


@pytest.mark.parametrize("currency", ["USD", "hkd", "Hkd", "HKD ", "CNY", "HK$"])
def test_a_currency_other_than_hkd_is_currency_not_support(currency: str) -> None:
    context = rejected(
        encode(body(tradeAmt=price(currency=currency))), ResultCode.CURRENCY_NOT_SUPPORT
    )
    assert context == f"tradeAmt.currency: {currency!r} is not supported; only HKD is"


def test_a_goods_price_in_another_currency_is_currency_not_support_naming_the_item() -> None:
    data = with_goods(goods(), goods(goodsPrice=price(currency="USD")))
    context = rejected(encode(data), ResultCode.CURRENCY_NOT_SUPPORT)
    assert context.startswith("extendInfo.goodsInfoList[1].goodsPrice.currency: 'USD'")


def test_a_malformed_value_is_illegal_even_in_another_currency() -> None:
    assert illegal(body(tradeAmt=price("-1", "USD"))).startswith(f"tradeAmt.value: {MONEY_RULE}")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ({"value": "1"}, "tradeAmt.currency: is required"),
        (price(currency=""), "tradeAmt.currency: must not be empty"),
        ({"currency": "HKD"}, "tradeAmt.value: is required"),
    ],
)
def test_a_money_object_needs_currency_and_value(amount: dict[str, Any], expected: str) -> None:
    assert illegal(body(tradeAmt=amount)) == expected


# --- transDate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2025-04-05T06:30:00Z",
        "2025-04-05T14:30:00+08:00",
        "2025-04-05T14:30:00+0800",
        "2025-04-05T01:30:00-05:00",
        "2025-04-05T06:30:00.123456789Z",
    ],
)
def test_trans_date_with_a_zone_offset_or_z_is_legal(value: str) -> None:
    assert parse(body(transDate=value)).trans_date == value


@pytest.mark.parametrize(
    "value", ["2025-04-05T06:30:00", "2025-04-05", "1743834600000", "2025-04-05 06:30:00Z"]
)
def test_trans_date_without_an_offset_or_not_iso_8601_is_illegal(value: str) -> None:
    assert illegal(body(transDate=value)) == (
        "transDate: must be ISO 8601 with a zone offset or Z, e.g. 2025-11-27T12:01:01+08:00"
    )


@pytest.mark.parametrize("value", ["2025-02-30T06:30:00Z", "2025-04-05T25:30:00Z"])
def test_trans_date_that_is_not_a_real_date_and_time_is_illegal(value: str) -> None:
    assert illegal(body(transDate=value)) == "transDate: is not a valid date and time"


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " "])
def test_trans_date_followed_by_whitespace_is_illegal(suffix: str) -> None:
    assert illegal(body(transDate="2025-04-05T06:30:00Z" + suffix)).startswith("transDate: ")


# --- enumerations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("entityType", "USERID"),
        ("entityType", "Phone"),
        ("entityType", "mail"),
        ("transType", "Transaction"),
        ("transType", "TRANSACTION"),
        ("transStatus", "success"),
        ("transStatus", "FAILED"),
        ("transDirection", "Pay"),
        ("transDirection", "REFUND"),
    ],
)
def test_enumerations_are_exact_and_case_sensitive(field: str, value: str) -> None:
    assert illegal(body(**{field: value})).startswith(f"{field}: must be one of ")


@pytest.mark.parametrize("code", ["renewal", "New_Contract", "OTHER", 1])
def test_goods_code_is_exact_and_case_sensitive(code: Any) -> None:
    context = illegal(with_goods(goods(goodsCode=code)))
    assert context.startswith(f"{GOODS0}.goodsCode: must be one of 'RENEWAL' or 'NEW_CONTRACT'")


@pytest.mark.parametrize("entity_type", ["userId", "phone", "email"])
def test_every_documented_entity_type_is_legal(entity_type: str) -> None:
    assert parse(body(entityType=entity_type, entityId=None)).entity_type == entity_type


# --- direction ------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [None, ""])
def test_a_refund_without_origin_trans_id_is_illegal(origin: str | None) -> None:
    data = body(transDirection="refund", originTransId=origin)
    assert illegal(data) == "originTransId: is required when transDirection is refund"


def test_a_refund_with_origin_trans_id_is_legal() -> None:
    request = parse(body(transDirection="refund", originTransId="T-0"))
    assert (request.direction, request.origin_trans_id) == ("refund", "T-0")


@pytest.mark.parametrize("direction", ["pay", None])
def test_a_pay_carrying_an_origin_trans_id_is_illegal(direction: str | None) -> None:
    data = body(transDirection=direction, originTransId="T-0")
    assert illegal(data) == "originTransId: must be empty when transDirection is pay"


# --- goods ----------------------------------------------------------------------------------


def test_ten_goods_items_are_legal_and_eleven_are_not() -> None:
    assert len(parse(with_goods(*[goods()] * 10)).goods) == 10
    assert (
        illegal(with_goods(*[goods()] * 11))
        == "extendInfo.goodsInfoList: must have at most 10 items"
    )


@pytest.mark.parametrize("field", ["goodsCode", "goodsPrice"])
@pytest.mark.parametrize("as_string", [False, True])
def test_a_goods_item_without_goods_code_or_goods_price_is_named_by_index(
    field: str, as_string: bool
) -> None:
    info: Any = {"goodsInfoList": [goods(), goods(), goods(**{field: None})]}
    data = body(extendInfo=json.dumps(info) if as_string else info)
    assert illegal(data) == f"extendInfo.goodsInfoList[2].{field}: is required"


def test_a_goods_item_needs_neither_goods_id_nor_goods_name() -> None:
    item = parse(with_goods(goods(goodsId=None, goodsName=None))).goods[0]
    assert (item.goods_id, item.goods_name, item.goods_code) == (None, None, "RENEWAL")


# --- lengths and characters -----------------------------------------------------------------

ID_FIELDS = ["merchantId", "subMerchantId", "storeId", "requestId", "outTransId", "transId"]
NAME_FIELDS = [
    "merchantName",
    "merchantCategory",
    "subMerchantName",
    "subMerchantCategory",
    "storeName",
    "storeCategory",
]


def _with_field(field: str, value: str) -> tuple[dict[str, Any], str]:
    """A body carrying ``value`` in ``field`` (goods fields in the first item), and its path."""
    if field.startswith("goods"):
        return with_goods(goods(**{field: value})), f"{GOODS0}.{field}"
    if field == "originTransId":
        return body(transDirection="refund", originTransId=value), field
    if field == "entityId":
        return body(entityType="userId", entityId=value), field
    return body(**{field: value}), field


@pytest.mark.parametrize("field", [*ID_FIELDS, "originTransId", "entityId", "goodsId"])
def test_ids_of_64_characters_are_legal_and_65_are_not(field: str) -> None:
    parse(_with_field(field, "x" * 64)[0])
    data, path = _with_field(field, "x" * 65)
    assert illegal(data) == f"{path}: must be at most 64 characters"


@pytest.mark.parametrize("field", [*NAME_FIELDS, "goodsName"])
def test_names_and_categories_of_256_characters_are_legal_and_257_are_not(field: str) -> None:
    parse(_with_field(field, "名" * 256)[0])
    data, path = _with_field(field, "名" * 257)
    assert illegal(data) == f"{path}: must be at most 256 characters"


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"])
@pytest.mark.parametrize(
    "field", ["merchantId", "requestId", "transId", "storeName", "originTransId", "goodsName"]
)
def test_control_characters_are_illegal_in_ids_and_names(char: str, field: str) -> None:
    data, path = _with_field(field, f"a{char}b")
    assert illegal(data) == f"{path}: must not contain control characters"


def test_control_characters_are_illegal_in_a_currency() -> None:
    assert illegal(body(tradeAmt=price(currency="HKD\n"))) == (
        "tradeAmt.currency: must not contain control characters"
    )


@pytest.mark.parametrize("text", ["联通合约续约", "Café Ünïcode", "🙂 shop", "a b", "\u00a0x"])
def test_printable_unicode_is_legal_in_names(text: str) -> None:
    assert parse(body(storeName=text)).store_name == text


# --- entityId shape -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone", ["123456", "12345678900", "+85212345678", "1" * 20, "+" + "1" * 20]
)
def test_a_phone_entity_id_of_an_optional_plus_and_6_to_20_digits_is_legal(phone: str) -> None:
    assert parse(body(entityType="phone", entityId=phone)).entity_id == phone


@pytest.mark.parametrize(
    "phone",
    [
        "12345",
        "1" * 21,
        "+",
        "++123456",
        "123-456-789",
        "852 1234 5678",
        "tel123456",
        "１２３４５６",
    ],
)
def test_a_phone_entity_id_of_another_shape_is_illegal(phone: str) -> None:
    assert illegal(body(entityType="phone", entityId=phone)) == (
        "entityId: a phone must be an optional + then 6 to 20 digits"
    )


@pytest.mark.parametrize("email", ["a@b", "first.last@example.com", "x+tag@mail.hk"])
def test_an_email_entity_id_with_one_at_and_text_on_both_sides_is_legal(email: str) -> None:
    assert parse(body(entityType="email", entityId=email)).entity_id == email


@pytest.mark.parametrize("email", ["ab", "@b", "a@", "@", "a@b@c", "a@@b"])
def test_an_email_entity_id_of_another_shape_is_illegal(email: str) -> None:
    assert illegal(body(entityType="email", entityId=email)) == (
        "entityId: an email must have one @ with text on both sides"
    )


@pytest.mark.parametrize("entity_id", ["u-1", "a@b@c", "12"])
def test_a_user_id_entity_id_may_have_any_shape(entity_id: str) -> None:
    assert parse(body(entityType="userId", entityId=entity_id)).entity_id == entity_id


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_a_trans_date_whose_utc_instant_overflows_is_illegal_naming_the_field(when: str) -> None:
    assert illegal(body(transDate=when)) == "transDate: is not a valid date and time"
