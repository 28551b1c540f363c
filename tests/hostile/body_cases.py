"""Kinds of hostile bodies, each correctly signed so that it reaches the body parser."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from tests.hostile.requests import ANY_ANSWER, Case, Request, compact, fresh_body

Kind = tuple[str, Callable[[random.Random], Case]]

FIELDS = (
    "merchantId",
    "merchantName",
    "subMerchantId",
    "storeId",
    "storeName",
    "requestId",
    "outTransId",
    "transId",
    "entityId",
    "entityType",
    "originTransId",
    "transType",
    "transStatus",
    "transDirection",
    "transDate",
    "tradeAmt",
    "extendInfo",
)

ILLEGAL = frozenset({"REQUEST_PARAM_ILLEGAL"})
DATE_CODES = frozenset({"REQUEST_PARAM_ILLEGAL", "TRANS_CALL_BACK_TIME_LIMIT", "INVALID_CONTRACT"})
RAW_VALUE = "\x00RAW\x00"  # placeholder: the mutation's literal JSON text is spliced in


def _deep(rng: random.Random) -> str:
    depth = rng.choice([65, 100, 1000, 5000, 20000])
    opener = rng.choice(["[", '{"a":'])
    closer = "]" if opener == "[" else "}"
    return opener * depth + "1" + closer * depth


def _long(rng: random.Random) -> str:
    return json.dumps("x" * rng.choice([65, 257, 4096, 60000]))


MUTATIONS: dict[str, Callable[[random.Random], str]] = {
    "int": lambda rng: str(rng.randint(-(10**6), 10**6)),
    "float": lambda rng: repr(rng.uniform(-1e6, 1e6)),
    "list": lambda rng: "[1,2,3]",
    "object": lambda rng: '{"x":1}',
    "null": lambda rng: "null",
    "true": lambda rng: "true",
    "long": _long,
    "control": lambda rng: json.dumps("a" + chr(rng.choice([0, 1, 9, 10, 27, 127, 0x85])) + "b"),
    "nan": lambda rng: rng.choice(["NaN", "Infinity", "-Infinity"]),
    "huge-number": lambda rng: rng.choice(["1e400", "-1e400", "9" * 5000, "1" + "0" * 400]),
    "deep": _deep,
    "lone-surrogate": lambda rng: rng.choice(['"\\ud800"', '"a\\udfffb"', '"\\udbff\\u0041"']),
    "json-string-deep": lambda rng: json.dumps(_deep(rng)),
    "json-string-nan": lambda rng: json.dumps('{"currency":"HKD","value":NaN}'),
}


def _field_kind(name: str, mutation: str) -> Kind:
    def build(rng: random.Random) -> Case:
        body = compact(fresh_body(rng, **{name: RAW_VALUE}))
        raw = body.replace(json.dumps(RAW_VALUE).encode(), MUTATIONS[mutation](rng).encode())
        kind = f"body field {name}: {mutation}"
        return Case(kind=kind, payload=Request(raw).sign().frame(), codes=ANY_ANSWER)

    return f"body field {name}: {mutation}", build


MONEY = (
    "-1",
    "01",
    "1e3",
    "1.5",
    " 1",
    "1 ",
    "\uff11",
    "9" * 19,
    "",
    "0x10",
    "+1",
    "1_000",
    "\u0661\u0662",
    "\n1",
    "1\n",
)


def _money_kind(where: str, value: Any) -> Kind:
    def build(rng: random.Random) -> Case:
        price = {"currency": "HKD", "value": value}
        if where == "tradeAmt":
            body = fresh_body(rng, tradeAmt=price)
        else:
            goods = {"goodsCode": "RENEWAL", "goodsPrice": price}
            body = fresh_body(rng, extendInfo={"goodsInfoList": [goods]})
        payload = Request(compact(body)).sign().frame()
        return Case(kind=f"money {where} {value!r}", payload=payload, codes=ILLEGAL)

    return f"money {where} {value!r}", build


TRANS_DATES = (
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "2025-02-30T00:00:00Z",
    "2025-01-01T23:59:60Z",
    "2025-01-01T00:00:00",
    "2025-01-01T00:00:00+24:00",
    "2025-01-01T00:00:00+99:99",
    "2025-01-01",
    "1735689600000",
    "2025-01-01T00:00:00.1234567890Z",
    "2025-01-01T00:00:00Z\n",
    "\uff12025-01-01T00:00:00Z",
    "2025-01-01T00:00:00+08:00[Asia/Hong_Kong]",
    "+002025-01-01T00:00:00Z",
    "2025-W01-1T00:00:00Z",
)


def _trans_date_kind(value: str) -> Kind:
    def build(rng: random.Random) -> Case:
        body = compact(fresh_body(rng, transDate=value))
        payload = Request(body).sign().frame()
        return Case(kind=f"transDate {value!r}", payload=payload, codes=DATE_CODES)

    return f"transDate {value!r}", build


def _raw_body_kind(name: str, make: Callable[[random.Random], bytes]) -> Kind:
    def build(rng: random.Random) -> Case:
        payload = Request(make(rng)).sign().frame()
        return Case(kind=f"raw body: {name}", payload=payload, codes=ANY_ANSWER)

    return f"raw body: {name}", build


def _spliced(rng: random.Random, extra: bytes) -> bytes:
    return compact(fresh_body(rng))[:-1] + b"," + extra + b"}"


RAW_BODIES: dict[str, Callable[[random.Random], bytes]] = {
    "empty": lambda rng: b"",
    "whitespace": lambda rng: b" \r\n\t ",
    "array": lambda rng: b"[" + compact(fresh_body(rng)) + b"]",
    "string": lambda rng: b'"hello"',
    "number": lambda rng: b"42",
    "null": lambda rng: b"null",
    "trailing garbage": lambda rng: compact(fresh_body(rng)) + b"x",
    "two objects": lambda rng: compact(fresh_body(rng)) * 2,
    "trailing comma": lambda rng: compact(fresh_body(rng))[:-1] + b",}",
    "single quotes": lambda rng: b"{'merchantId': '1'}",
    "comment": lambda rng: b"/* c */" + compact(fresh_body(rng)),
    "duplicate top key": lambda rng: _spliced(rng, b'"merchantId":"other"'),
    "duplicate nested key": lambda rng: compact(fresh_body(rng)).replace(
        b'"value":"24800"', b'"value":"1","value":"24800"', 1
    ),
    "duplicate key in tradeAmt string": lambda rng: compact(
        fresh_body(rng, tradeAmt='{"currency":"HKD","currency":"USD","value":"1"}')
    ),
    "deep ignored array": lambda rng: _spliced(rng, b'"x":' + _deep(rng).encode()),
    "deep extendInfo string": lambda rng: compact(
        fresh_body(rng, extendInfo='{"goodsInfoList":' + _deep(rng) + "}")
    ),
    "deep tradeAmt string": lambda rng: compact(fresh_body(rng, tradeAmt=_deep(rng))),
    "nan ignored": lambda rng: _spliced(rng, b'"x":NaN'),
    "infinity ignored": lambda rng: _spliced(rng, b'"x":-Infinity'),
    "1e400 ignored": lambda rng: _spliced(rng, b'"x":1e400'),
    "5000-digit ignored": lambda rng: _spliced(rng, b'"x":' + b"7" * 5000),
    "latin-1": lambda rng: (
        compact(fresh_body(rng, storeName="caf\u00e9")).decode().encode("latin-1")
    ),
    "utf-16": lambda rng: json.dumps(fresh_body(rng)).encode("utf-16"),
    "utf-8 bom": lambda rng: b"\xef\xbb\xbf" + compact(fresh_body(rng)),
    "overlong utf-8": lambda rng: compact(fresh_body(rng, storeName="/")).replace(
        b'"/"', b'"\xc0\xaf"'
    ),
    "encoded surrogate": lambda rng: compact(fresh_body(rng, storeName="a")).replace(
        b'"a"', b'"\xed\xa0\x80"'
    ),
    "nul byte": lambda rng: compact(fresh_body(rng))[:-1] + b"\x00}",
    "random bytes": lambda rng: rng.randbytes(rng.randint(1, 4096)),
    "many goods": lambda rng: compact(
        fresh_body(
            rng,
            extendInfo={
                "goodsInfoList": [
                    {"goodsCode": "RENEWAL", "goodsPrice": {"currency": "HKD", "value": "1"}}
                ]
                * rng.choice([11, 100, 2000])
            },
        )
    ),
    "many ignored keys": lambda rng: _spliced(
        rng, b",".join(b'"k%d":%d' % (i, i) for i in range(rng.choice([1000, 5000])))
    ),
    "refund without origin": lambda rng: compact(fresh_body(rng, transDirection="refund")),
    "pay with origin": lambda rng: compact(fresh_body(rng, originTransId="T-x")),
    "refund of unknown origin": lambda rng: compact(
        fresh_body(rng, transDirection="refund", originTransId=f"nope-{rng.random()}")
    ),
    "other currency": lambda rng: compact(
        fresh_body(rng, tradeAmt={"currency": "USD", "value": "1"})
    ),
    "unlinked merchant": lambda rng: compact(fresh_body(rng, merchantId="999")),
    "valid": lambda rng: compact(fresh_body(rng)),
}


def body_kinds() -> list[Kind]:
    """Every kind of hostile body."""
    kinds = [_field_kind(name, mutation) for name in FIELDS for mutation in MUTATIONS]
    kinds += [_money_kind(where, v) for where in ("tradeAmt", "goodsPrice") for v in MONEY]
    kinds += [_money_kind(where, v) for where in ("tradeAmt", "goodsPrice") for v in (100, 1.5)]
    kinds += [_trans_date_kind(value) for value in TRANS_DATES]
    kinds += [_raw_body_kind(name, make) for name, make in RAW_BODIES.items()]
    return kinds
