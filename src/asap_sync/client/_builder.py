"""A typed way to build an externalInfoSync request: :class:`Transaction` and :class:`Goods`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from asap_sync import wire
from asap_sync.client._errors import InvalidSyncError
from asap_sync.client._money import Amount, AmountError, to_minor_units

EntityType = Literal["userId", "phone", "email"]
GoodsCode = Literal["RENEWAL", "NEW_CONTRACT"]
Direction = Literal["pay", "refund"]

_OPTIONAL_TEXT = {
    "merchant_name": "merchantName",
    "merchant_category": "merchantCategory",
    "sub_merchant_id": "subMerchantId",
    "sub_merchant_name": "subMerchantName",
    "sub_merchant_category": "subMerchantCategory",
    "store_id": "storeId",
    "store_name": "storeName",
    "store_category": "storeCategory",
    "trans_id": "transId",
    "entity_id": "entityId",
    "origin_trans_id": "originTransId",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Goods:
    """One goods item: ``price`` as ``int`` minor units or ``Decimal`` HKD."""

    code: GoodsCode
    price: Amount
    goods_id: str | None = None
    name: str | None = None

    def to_wire(self, index: int) -> dict[str, Any]:
        field = f"extendInfo.goodsInfoList[{index}].goodsPrice"
        item: dict[str, Any] = {"goodsCode": self.code, "goodsPrice": _price(self.price, field)}
        if self.goods_id is not None:
            item["goodsId"] = self.goods_id
        if self.name is not None:
            item["goodsName"] = self.name
        return item


@dataclass(frozen=True, kw_only=True, slots=True)
class Transaction:
    """A transaction to sync, in Python terms; :meth:`to_request` checks it like the platform.

    ``amount`` and goods prices are ``int`` minor units (``24800``) or ``Decimal`` HKD
    (``Decimal("248.00")``); a ``float`` is refused. ``request_id`` defaults to
    ``out_trans_id``, as the API recommends, so re-sending a transaction is idempotent.
    """

    merchant_id: str
    out_trans_id: str
    trans_date: datetime | str
    entity_type: EntityType
    entity_id: str | None = None
    direction: Direction = "pay"
    origin_trans_id: str | None = None
    amount: Amount | None = None
    goods: Sequence[Goods] = ()
    request_id: str | None = None
    trans_id: str | None = None
    merchant_name: str | None = None
    merchant_category: str | None = None
    sub_merchant_id: str | None = None
    sub_merchant_name: str | None = None
    sub_merchant_category: str | None = None
    store_id: str | None = None
    store_name: str | None = None
    store_category: str | None = None

    def __post_init__(self) -> None:
        # A tuple keeps the frozen value immutable even when a list was passed.
        object.__setattr__(self, "goods", tuple(self.goods))

    def to_wire(self) -> dict[str, Any]:
        """The body as a JSON-ready dict with wire names (not yet checked)."""
        body: dict[str, Any] = {
            "merchantId": self.merchant_id,
            "requestId": self.request_id or self.out_trans_id,
            "outTransId": self.out_trans_id,
            "entityType": self.entity_type,
            "transType": "transaction",
            "transStatus": "SUCCESS",
            "transDirection": self.direction,
            "transDate": _trans_date(self.trans_date),
        }
        for attr, name in _OPTIONAL_TEXT.items():
            value = getattr(self, attr)
            if value is not None:
                body[name] = value
        if self.amount is not None:
            body["tradeAmt"] = _price(self.amount, "tradeAmt")
        if self.goods:
            body["extendInfo"] = {"goodsInfoList": [g.to_wire(i) for i, g in enumerate(self.goods)]}
        return body

    def to_request(self) -> wire.SyncRequest:
        """The checked wire request; raises :class:`InvalidSyncError` naming field and rule."""
        return request_from_mapping(self.to_wire())

    def to_body(self) -> bytes:
        """The compact UTF-8 JSON body that will be signed and sent."""
        return wire.dump_sync_body(self.to_request())


def request_from_mapping(data: dict[str, Any]) -> wire.SyncRequest:
    """Check a wire-format dict with the platform's own parser (same rules, same messages)."""
    try:
        raw = json.dumps(data, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidSyncError(f"body: not JSON-serialisable ({exc})") from exc
    try:
        return wire.parse_sync_body(raw)
    except wire.BodyError as exc:
        raise InvalidSyncError(exc.context) from exc


def _price(amount: object, field: str) -> dict[str, str]:
    try:
        minor = to_minor_units(amount, field=field)
    except AmountError as exc:
        raise InvalidSyncError(str(exc)) from exc
    return {"currency": "HKD", "value": str(minor)}


def _trans_date(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSyncError("transDate: a datetime must be timezone-aware")
    return value.isoformat(timespec="seconds")
