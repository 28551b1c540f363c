"""Raw HTTP/1.1 requests, signed with the test merchant's key or deliberately not."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asap_sync.wire import ENDPOINT_PATH, format_response_time
from tests.kit import CLIENT_ID, MERCHANT_ID, signed_headers

Headers = list[tuple[bytes, bytes]]
ANY_REJECTION = frozenset(
    {
        "REQUEST_PARAM_ILLEGAL",
        "INVALID_SIGNATURE",
        "KEY_NOT_FOUND",
        "INVALID_CLIENT",
        "MEDIA_TYPE_NOT_ACCEPTABLE",
        "METHOD_NOT_SUPPORTED",
        "CURRENCY_NOT_SUPPORT",
        "IDEMPOTENCY_EXCEPTION",
        "INVALID_MERCHANT",
        "INVALID_AMOUNT",
        "ORDER_NOT_EXIST",
        "TRANS_CALL_BACK_TIME_LIMIT",
        "INVALID_CONTRACT",
        "REQUEST_TRAFFIC_EXCEED_LIMIT",
    }
)

ANY_ANSWER = ANY_REJECTION | {"SUCCESS"}


@dataclass(frozen=True)
class Case:
    """One hostile request and what may come back.

    ``codes``: the errorCodes a signed answer may carry (``SUCCESS`` for an acceptance);
    ``plain``: the plain statuses the HTTP layer may answer instead; ``closed``: whether the
    server may hang up without answering (a client that never asked anything).
    """

    kind: str
    payload: bytes
    method: str = "POST"
    codes: frozenset[str] = ANY_REJECTION
    plain: frozenset[int] = frozenset()
    closed: bool = False
    signed: bool = True  # False: only a plain answer (or none) is acceptable
    wait: float = 10.0


def now_text() -> str:
    return format_response_time(datetime.now(UTC))


def fresh_body(rng: random.Random, **fields: Any) -> dict[str, Any]:
    """A valid pay body with unique ids and a recent transDate; fields override."""
    token = f"{rng.getrandbits(64):016x}"
    body: dict[str, Any] = {
        "merchantId": MERCHANT_ID,
        "subMerchantId": "3858195171",
        "requestId": f"h-{token}",
        "outTransId": f"h-{token}",
        "transId": "",
        "entityId": "12345678900",
        "entityType": "phone",
        "transType": "transaction",
        "transDate": (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds"),
        "transStatus": "SUCCESS",
        "tradeAmt": {"currency": "HKD", "value": "24800"},
        "extendInfo": {
            "goodsInfoList": [
                {
                    "goodsCode": "RENEWAL",
                    "goodsName": "contract renewal",
                    "goodsPrice": {"currency": "HKD", "value": "24800"},
                }
            ]
        },
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def compact(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Request:
    """A request to be framed; ``sign`` makes its headers those of a correctly signed one."""

    body: bytes = b"{}"
    method: str = "POST"
    target: bytes = ENDPOINT_PATH.encode()
    version: bytes = b"HTTP/1.1"
    headers: Headers = field(default_factory=list)
    content_length: bool = True

    def sign(
        self,
        *,
        request_time: str | None = None,
        client_id: str = CLIENT_ID,
        key_version: str | int | None = 1,
    ) -> Request:
        signed = signed_headers(
            self.body,
            request_time=now_text() if request_time is None else request_time,
            client_id=client_id,
            key_version=key_version,
            method=self.method,
        )
        self.headers = [(k.encode(), v.encode()) for k, v in signed.items()]
        return self

    def unsigned(self, signature: str = "algorithm=RSA256,keyVersion=1,signature=AAAA") -> Request:
        self.headers = [
            (b"Content-Type", b"application/json; charset=UTF-8"),
            (b"Client-Id", CLIENT_ID.encode()),
            (b"Request-Time", now_text().encode()),
            (b"Signature", signature.encode()),
        ]
        return self

    def replace(self, name: bytes, value: bytes | None) -> Request:
        """Set (or with None drop) a header, keeping its place."""
        kept = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            kept.append((name, value))
        self.headers = kept
        return self

    def add(self, name: bytes, value: bytes) -> Request:
        self.headers.append((name, value))
        return self

    def frame(self) -> bytes:
        lines = [self.method.encode("latin-1") + b" " + self.target + b" " + self.version]
        lines.append(b"Host: 127.0.0.1")
        lines += [name + b": " + value for name, value in self.headers]
        if self.content_length:
            lines.append(b"Content-Length: " + str(len(self.body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body
