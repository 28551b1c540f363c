"""The benchmark's workload: keys, a registered client, and pre-signed unique requests."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    load_private_key,
    private_key_pem,
    public_key_base64,
    public_key_pem,
    sign,
    signing_content,
)

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "tests" / "vectors" / "alipay-sdk-vectors.json"
CLIENT_ID = "211020000000000000044"
MERCHANTS = ("2160120033934460", "2160120033934461", "2160120033934462", "2160120033934463")
T0 = datetime(2025, 1, 1, tzinfo=UTC)
GOODS = (
    ("RENEWAL", "contract renewal"),
    ("NEW_CONTRACT", "new contract"),
)


@dataclass(frozen=True)
class Keys:
    """The merchant's throwaway key pair (golden vectors) and the platform's signing key."""

    client: rsa.RSAPrivateKey
    platform: rsa.RSAPrivateKey

    @classmethod
    def load(cls, platform: rsa.RSAPrivateKey) -> Keys:
        vectors = json.loads(VECTORS.read_text())
        return cls(client=load_private_key(vectors["privateKeyPkcs8Base64"]), platform=platform)

    def write_baseline_file(self, path: Path) -> None:
        """The keys the baseline handler caches, in the file its factory reads."""
        path.write_text(
            json.dumps(
                {
                    "client_public_key": public_key_pem(self.client.public_key()),
                    "platform_private_key": private_key_pem(self.platform),
                }
            )
        )


def register(engine: Engine, keys: Keys) -> None:
    """Client, key version 1, four linked merchants each with a contract, the platform key."""
    with engine.begin() as conn:
        conn.execute(insert(clients), {"client_id": CLIENT_ID, "name": "bench", "created_at": T0})
        conn.execute(
            insert(client_keys),
            {
                "client_id": CLIENT_ID,
                "key_version": 1,
                "created_at": T0,
                "public_key_pem": public_key_pem(keys.client.public_key()),
            },
        )
        for merchant in MERCHANTS:
            contract_id = f"CPS-{merchant}"
            conn.execute(
                insert(client_merchants),
                {"client_id": CLIENT_ID, "merchant_id": merchant, "created_at": T0},
            )
            conn.execute(
                insert(contracts),
                {
                    "contract_id": contract_id,
                    "merchant_id": merchant,
                    "valid_from": T0,
                    "valid_to": None,
                    "default_rate_bp": 100,
                    "created_at": T0,
                },
            )
            for code, kind, value in (("RENEWAL", "rate", 150), ("NEW_CONTRACT", "fixed", 5000)):
                conn.execute(
                    insert(contract_rules),
                    {"contract_id": contract_id, "goods_code": code, "kind": kind, "value": value},
                )
        conn.execute(
            insert(platform_keys),
            {
                "key_version": 1,
                "private_key_pem": private_key_pem(keys.platform),
                "created_at": T0,
                "public_key_b64": public_key_base64(keys.platform.public_key()),
            },
        )


def body_of(n: int, tag: str, now: datetime, rng: random.Random) -> bytes:
    """A valid pay of one to three goods; every fourth one in the seed's string-encoded form."""
    goods = [
        {
            "goodsCode": code,
            "goodsName": name,
            "goodsPrice": {"currency": "HKD", "value": str(rng.randrange(1000, 500_000))},
        }
        for code, name in rng.choices(GOODS, k=rng.randint(1, 3))
    ]
    total = sum(int(g["goodsPrice"]["value"]) for g in goods)
    trade: Any = {"currency": "HKD", "value": str(total + rng.choice((0, 0, 100)))}
    extend: Any = {"goodsInfoList": goods}
    if n % 4 == 3:
        trade, extend = json.dumps(trade), json.dumps(extend)
    trans_date = now - timedelta(minutes=rng.randrange(10, 60 * 24 * 20))
    body = {
        "merchantId": MERCHANTS[n % len(MERCHANTS)],
        "subMerchantId": f"38581951{n % 97:02d}",
        "requestId": f"{tag}-req-{n}",
        "outTransId": f"{tag}-T-{n}",
        "transId": "",
        "entityId": f"852{rng.randrange(10**7, 10**8)}",
        "entityType": "phone",
        "transType": "transaction",
        "transDate": trans_date.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "transStatus": "SUCCESS",
        "tradeAmt": trade,
        "extendInfo": extend,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


_worker_key: rsa.RSAPrivateKey | None = None


def _load_worker_key(pem: str) -> None:
    global _worker_key
    _worker_key = load_private_key(pem)


def _signed_request(item: tuple[bytes, str]) -> bytes:
    body, request_time = item
    assert _worker_key is not None
    signature = sign(
        signing_content("POST", ENDPOINT_PATH, CLIENT_ID, request_time, body), _worker_key
    )
    head = (
        f"POST {ENDPOINT_PATH} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/json; charset=UTF-8\r\n"
        f"Client-Id: {CLIENT_ID}\r\n"
        f"Request-Time: {request_time}\r\n"
        f"Signature: {format_signature_header(signature, 1)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def presign(count: int, tag: str, keys: Keys, *, processes: int = 2, seed: int = 7) -> list[bytes]:
    """``count`` unique raw HTTP requests signed now (Request-Time is checked to ±15 minutes)."""
    now = datetime.now(UTC)
    request_time = now.isoformat(timespec="seconds")
    rng = random.Random(seed)
    items = [(body_of(n, tag, now, rng), request_time) for n in range(count)]
    with ProcessPoolExecutor(
        processes, initializer=_load_worker_key, initargs=(private_key_pem(keys.client),)
    ) as pool:
        return list(pool.map(_signed_request, items, chunksize=500))


def iter_sizes(requests: list[bytes]) -> Iterator[int]:
    """Body sizes, for the report."""
    for raw in requests:
        yield len(raw) - raw.index(b"\r\n\r\n") - 4
