"""The externalInfoSync request and response bodies: one definition for server and SDK.

Parsing follows SPEC §3: a JSON object in UTF-8 without duplicate keys; ``tradeAmt`` and
``extendInfo`` as objects or as strings holding JSON; an empty optional string means absent;
money as a string of decimal digits in minor units. Every failure is a :class:`BodyError`
naming the field and the rule, ready for ``errorContext``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from asap_sync.wire.codes import ResultCode
from asap_sync.wire.request_time import parse_request_time
from asap_sync.wire.strict_json import StrictJsonError, loads_strict

MAX_ID = 64
MAX_NAME = 256
MAX_GOODS = 10
MAX_AMOUNT_DIGITS = 18
ENDPOINT_PATH = "/amsin/commercial/certificate/accept"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MINOR_UNITS = re.compile(r"^(0|[1-9][0-9]{0,17})$")
_PHONE = re.compile(r"^\+?[0-9]{6,20}$")
_TRANS_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$")


class BodyError(ValueError):
    """The body breaks a rule of SPEC §3; ``context`` names the field and the rule."""

    def __init__(self, code: ResultCode, context: str) -> None:
        super().__init__(context)
        self.code = code
        self.context = context


def _fail(rule: str) -> PydanticCustomError:
    return PydanticCustomError("asap_rule", rule)


def _empty_is_absent(value: Any) -> Any:
    return None if value == "" else value


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise _fail("must not contain control characters")
    return value


def _required_text(value: str) -> str:
    if value == "":
        raise _fail("must not be empty")
    return _no_control(value)


def _json_in_string(value: Any) -> Any:
    """``tradeAmt`` and ``extendInfo`` may be JSON objects sent as strings."""
    if value == "":
        return None
    if isinstance(value, str):
        try:
            decoded = loads_strict(value)
        except StrictJsonError as exc:
            if exc.rule == "must be valid JSON":
                raise _fail("must be an object or a string holding a JSON object") from exc
            raise _fail(f"{exc.rule} in the JSON string") from exc
        if not isinstance(decoded, dict):
            raise _fail("must be an object or a string holding a JSON object")
        return decoded
    return value


def _minor_units(value: str) -> str:
    if not _MINOR_UNITS.fullmatch(value):  # fullmatch: "$" would let a final "\n" through
        raise _fail(
            "must be a natural number in minor units "
            f"(decimal digits, no sign, no leading zeros, at most {MAX_AMOUNT_DIGITS} digits)"
        )
    return value


def _trans_date(value: str) -> str:
    if not _TRANS_DATE.fullmatch(value):
        raise _fail("must be ISO 8601 with a zone offset or Z, e.g. 2025-11-27T12:01:01+08:00")
    try:
        parse_trans_date(value)
    except ValueError as exc:
        raise _fail("is not a valid date and time") from exc
    return value


def parse_trans_date(value: str) -> datetime:
    """The aware datetime of a ``transDate`` (same ISO forms as Request-Time)."""
    return parse_request_time(value)


IdText = Annotated[str, Field(max_length=MAX_ID), AfterValidator(_required_text)]
OptId = Annotated[
    Annotated[str, Field(max_length=MAX_ID), AfterValidator(_no_control)] | None,
    BeforeValidator(_empty_is_absent),
]
OptName = Annotated[
    Annotated[str, Field(max_length=MAX_NAME), AfterValidator(_no_control)] | None,
    BeforeValidator(_empty_is_absent),
]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, strict=True, hide_input_in_errors=True
    )


class Price(_Model):
    """An amount: ``currency`` (HKD) and ``value`` in minor units as a string of digits."""

    currency: Annotated[str, Field(max_length=8), AfterValidator(_required_text)]
    value: Annotated[str, AfterValidator(_minor_units)]

    @property
    def minor(self) -> int:
        """The amount in minor units."""
        return int(self.value)


class GoodsInfo(_Model):
    """One item of ``extendInfo.goodsInfoList``."""

    goods_id: OptId = Field(default=None, alias="goodsId")
    goods_code: Literal["RENEWAL", "NEW_CONTRACT"] = Field(alias="goodsCode")
    goods_name: OptName = Field(default=None, alias="goodsName")
    goods_price: Price = Field(alias="goodsPrice")


class ExtendInfo(_Model):
    """``extendInfo``: at most ten goods items."""

    # max_length on the list itself: on the optional it would be applied to None too.
    goods_info_list: Annotated[
        Annotated[list[GoodsInfo], Field(max_length=MAX_GOODS)] | None,
        BeforeValidator(_empty_is_absent),
    ] = Field(default=None, alias="goodsInfoList")


class SyncRequest(_Model):
    """The externalInfoSync request body, parsed and normalised."""

    merchant_id: IdText = Field(alias="merchantId")
    merchant_name: OptName = Field(default=None, alias="merchantName")
    merchant_category: OptName = Field(default=None, alias="merchantCategory")
    sub_merchant_id: OptId = Field(default=None, alias="subMerchantId")
    sub_merchant_name: OptName = Field(default=None, alias="subMerchantName")
    sub_merchant_category: OptName = Field(default=None, alias="subMerchantCategory")
    store_id: OptId = Field(default=None, alias="storeId")
    store_name: OptName = Field(default=None, alias="storeName")
    store_category: OptName = Field(default=None, alias="storeCategory")
    request_id: IdText = Field(alias="requestId")
    out_trans_id: IdText = Field(alias="outTransId")
    trans_id: OptId = Field(default=None, alias="transId")
    entity_id: OptId = Field(default=None, alias="entityId")
    entity_type: Literal["userId", "phone", "email"] = Field(alias="entityType")
    origin_trans_id: OptId = Field(default=None, alias="originTransId")
    trans_type: Literal["transaction"] = Field(alias="transType")
    trans_status: Annotated[Literal["SUCCESS"] | None, BeforeValidator(_empty_is_absent)] = Field(
        default=None, alias="transStatus"
    )
    trans_direction: Annotated[
        Literal["pay", "refund"] | None, BeforeValidator(_empty_is_absent)
    ] = Field(default=None, alias="transDirection")
    trans_date: Annotated[str, AfterValidator(_trans_date)] = Field(alias="transDate")
    trade_amt: Annotated[Price | None, BeforeValidator(_json_in_string)] = Field(
        default=None, alias="tradeAmt"
    )
    extend_info: Annotated[ExtendInfo | None, BeforeValidator(_json_in_string)] = Field(
        default=None, alias="extendInfo"
    )

    @property
    def direction(self) -> Literal["pay", "refund"]:
        """``transDirection`` with its default applied."""
        return self.trans_direction or "pay"

    @property
    def goods(self) -> list[GoodsInfo]:
        """The goods items, empty when none were sent."""
        if self.extend_info is None or self.extend_info.goods_info_list is None:
            return []
        return self.extend_info.goods_info_list

    def canonical(self) -> dict[str, Any]:
        """The normalised content (wire names, absent fields dropped) for comparisons."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def parse_sync_body(raw: bytes) -> SyncRequest:
    """Parse and check a raw request body; raises :class:`BodyError` on the first broken rule."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(ResultCode.REQUEST_PARAM_ILLEGAL, "body: must be valid UTF-8") from exc
    try:
        data = loads_strict(text)
    except StrictJsonError as exc:
        raise BodyError(ResultCode.REQUEST_PARAM_ILLEGAL, f"body: {exc.rule}") from exc
    if not isinstance(data, dict):
        raise BodyError(ResultCode.REQUEST_PARAM_ILLEGAL, "body: must be a JSON object")
    try:
        request = SyncRequest.model_validate(data)
    except ValidationError as exc:
        raise BodyError(ResultCode.REQUEST_PARAM_ILLEGAL, describe_errors(exc)) from exc
    _check_semantics(request)
    return request


def _check_semantics(request: SyncRequest) -> None:
    """Rules across fields, after every field is well-formed."""
    illegal = ResultCode.REQUEST_PARAM_ILLEGAL
    if request.direction == "refund" and request.origin_trans_id is None:
        raise BodyError(illegal, "originTransId: is required when transDirection is refund")
    if request.direction == "pay" and request.origin_trans_id is not None:
        raise BodyError(illegal, "originTransId: must be empty when transDirection is pay")
    if request.entity_id is not None:
        _check_entity(request.entity_type, request.entity_id)
    prices = [("tradeAmt", request.trade_amt)] + [
        (f"extendInfo.goodsInfoList[{i}].goodsPrice", g.goods_price)
        for i, g in enumerate(request.goods)
    ]
    for where, price in prices:
        if price is not None and price.currency != "HKD":
            raise BodyError(
                ResultCode.CURRENCY_NOT_SUPPORT,
                f"{where}.currency: {price.currency!r} is not supported; only HKD is",
            )


def _check_entity(entity_type: str, entity_id: str) -> None:
    illegal = ResultCode.REQUEST_PARAM_ILLEGAL
    if entity_type == "phone" and not _PHONE.match(entity_id):
        raise BodyError(illegal, "entityId: a phone must be an optional + then 6 to 20 digits")
    if entity_type == "email":
        local, at, domain = entity_id.partition("@")
        if not at or not local or not domain or "@" in domain:
            raise BodyError(illegal, "entityId: an email must have one @ with text on both sides")


def describe_errors(exc: ValidationError) -> str:
    """``field.path: rule`` for the first error pydantic found, in a merchant's words."""
    error = exc.errors(include_url=False)[0]
    where = _format_loc(error["loc"]) or "body"
    kind = error["type"]
    if kind == "missing":
        rule = "is required"
    elif kind in ("string_type", "model_type", "model_attributes_type", "list_type"):
        rule = {
            "string_type": "must be a string",
            "list_type": "must be a list",
        }.get(kind, "must be an object or a string holding a JSON object")
    elif kind == "string_too_long":
        rule = f"must be at most {error['ctx']['max_length']} characters"
    elif kind == "too_long":
        rule = f"must have at most {error['ctx']['max_length']} items"
    elif kind == "literal_error":
        rule = f"must be one of {error['ctx']['expected']} (case-sensitive)"
    else:
        rule = str(error["msg"])
    return f"{where}: {rule}"


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-") or part in ("str", "none", "literal['SUCCESS']"):
            continue
        else:
            out += f".{part}" if out else part
    return out


class SyncResult(_Model):
    """The answer body: ``{"success", "invokeResult", "errorCode"?, "errorContext"?}``."""

    success: bool
    invoke_result: Literal["SUCCESS", "FAILED"] = Field(alias="invokeResult")
    error_code: str | None = Field(default=None, alias="errorCode")
    error_context: str | None = Field(default=None, alias="errorContext")

    @classmethod
    def ok(cls) -> SyncResult:
        """The success answer (one shared instance: it never changes)."""
        return _OK

    @classmethod
    def failed(cls, code: ResultCode, context: str | None = None) -> SyncResult:
        """A rejection; the context defaults to the catalogue's message."""
        return cls(
            success=False,
            invoke_result="FAILED",
            error_code=code.value,
            error_context=context or code.message,
        )

    def to_bytes(self) -> bytes:
        """Compact JSON in the documented key order."""
        if self is _OK:
            return _OK_BYTES
        data = self.model_dump(by_alias=True, exclude_none=True)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


_OK = SyncResult(success=True, invoke_result="SUCCESS")
_OK_BYTES = b'{"success":true,"invokeResult":"SUCCESS"}'


def parse_sync_result(raw: bytes) -> SyncResult:
    """Parse an answer body (lenient on extra fields)."""
    return SyncResult.model_validate_json(raw, strict=False)


def dump_sync_body(request: SyncRequest) -> bytes:
    """Serialise a request compactly (objects, not JSON-in-strings), UTF-8, wire names."""
    return json.dumps(request.canonical(), ensure_ascii=False, separators=(",", ":")).encode()
