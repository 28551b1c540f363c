"""Test kit: keys, a registered merchant with a contract, and signed requests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, insert

from asap_sync.storage.tables import (
    client_keys,
    client_merchants,
    clients,
    contract_rules,
    contracts,
    platform_keys,
)
from asap_sync.wire import (
    ENDPOINT_PATH,
    format_signature_header,
    generate_private_key,
    load_private_key,
    private_key_pem,
    public_key_base64,
    public_key_pem,
    sign,
    signing_content,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "alipay-sdk-vectors.json").read_text())
CLIENT_ID = "211020000000000000044"
MERCHANT_ID = "2160120033934460"
CONTRACT_ID = "CPS-2025"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@cache
def client_key() -> rsa.RSAPrivateKey:
    """The throwaway key pair of the golden vectors, as the merchant's key."""
    return load_private_key(VECTORS["privateKeyPkcs8Base64"])


@cache
def platform_key() -> rsa.RSAPrivateKey:
    """A platform signing key made once per test session."""
    return generate_private_key()


@dataclass(frozen=True, kw_only=True)
class Registered:
    """What :func:`register` set up."""

    client_id: str = CLIENT_ID
    merchant_id: str = MERCHANT_ID
    contract_id: str = CONTRACT_ID


def register(
    engine: Engine,
    *,
    client_id: str = CLIENT_ID,
    merchants: tuple[str, ...] = (MERCHANT_ID,),
    rules: dict[str, tuple[str, int]] | None = None,
    default_rate_bp: int = 100,
    valid_from: datetime = T0,
    valid_to: datetime | None = None,
    threshold: int | None = None,
    goods_window_days: int | None = None,
    with_platform_key: bool = True,
) -> Registered:
    """Client with key version 1, links, one contract per merchant, the platform key."""
    rules = {"RENEWAL": ("rate", 150), "NEW_CONTRACT": ("fixed", 5000)} if rules is None else rules
    with engine.begin() as conn:
        conn.execute(insert(clients), {"client_id": client_id, "name": "test", "created_at": T0})
        conn.execute(
            insert(client_keys),
            {
                "client_id": client_id,
                "key_version": 1,
                "created_at": T0,
                "public_key_pem": public_key_pem(client_key().public_key()),
            },
        )
        for n, merchant in enumerate(merchants):
            contract_id = CONTRACT_ID if n == 0 else f"{CONTRACT_ID}-{merchant}"
            conn.execute(
                insert(client_merchants),
                {"client_id": client_id, "merchant_id": merchant, "created_at": T0},
            )
            conn.execute(
                insert(contracts),
                {
                    "contract_id": contract_id,
                    "merchant_id": merchant,
                    "valid_from": valid_from,
                    "valid_to": valid_to,
                    "default_rate_bp": default_rate_bp,
                    "created_at": T0,
                    "goods_window_days": goods_window_days,
                    "amount_threshold_minor": threshold,
                },
            )
            for code, (kind, value) in rules.items():
                conn.execute(
                    insert(contract_rules),
                    {"contract_id": contract_id, "goods_code": code, "kind": kind, "value": value},
                )
        if with_platform_key:
            key = platform_key()
            conn.execute(
                insert(platform_keys),
                {
                    "key_version": 1,
                    "private_key_pem": private_key_pem(key),
                    "created_at": T0,
                    "public_key_b64": public_key_base64(key.public_key()),
                },
            )
    return Registered(client_id=client_id, merchant_id=merchants[0])


def sync_body(**fields: Any) -> dict[str, Any]:
    """A valid pay body (the seed sample's shape); keyword arguments override fields.

    A field given as ``None`` is removed.
    """
    body: dict[str, Any] = {
        "merchantId": MERCHANT_ID,
        "subMerchantId": "3858195171",
        "requestId": "req-1",
        "outTransId": "T-1",
        "transId": "",
        "entityId": "12345678900",
        "entityType": "phone",
        "transType": "transaction",
        "transDate": "2025-04-05T06:30:00Z",
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


def encode(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def signed_headers(
    body: bytes,
    *,
    request_time: str,
    client_id: str = CLIENT_ID,
    key: rsa.RSAPrivateKey | None = None,
    key_version: str | int | None = 1,
    method: str = "POST",
    path: str = ENDPOINT_PATH,
) -> dict[str, str]:
    """The headers of a correctly signed request."""
    signature = sign(
        signing_content(method, path, client_id, request_time, body), key or client_key()
    )
    header = format_signature_header(signature, key_version if key_version is not None else 1)
    if key_version is None:
        header = header.replace("keyVersion=1,", "")
    return {
        "Content-Type": "application/json; charset=UTF-8",
        "Client-Id": client_id,
        "Request-Time": request_time,
        "Signature": header,
    }
