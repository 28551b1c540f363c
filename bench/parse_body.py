"""Micro-benchmark: parsing one externalInfoSync body (the seed sample's shape).

    .venv/bin/python -m bench.parse_body [--rounds 20000]

Prints the median time per parse (µs) over five runs, for the compact body and the same body
with ``tradeAmt`` and ``extendInfo`` sent as JSON strings (the seed's own form).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from asap_sync.wire.messages import parse_sync_body

BODY = {
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


def _median_us(raw: bytes, rounds: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            parse_sync_body(raw)
        runs.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    compact = json.dumps(BODY, separators=(",", ":")).encode()
    as_strings = dict(
        BODY,
        tradeAmt=json.dumps(BODY["tradeAmt"]),
        extendInfo=json.dumps(BODY["extendInfo"]),
    )
    stringly = json.dumps(as_strings, indent=4).encode()
    print(f"objects: {_median_us(compact, args.rounds):.1f} µs per parse")
    print(f"strings: {_median_us(stringly, args.rounds):.1f} µs per parse")


if __name__ == "__main__":
    main()
