"""Micro-benchmark: parsing one externalInfoSync body (the seed sample's shape).

    .venv/bin/python -m bench.parse_body [--rounds 20000]

Prints the median time (µs) over five runs of: the JSON step alone, as it was (the standard
library parser with a duplicate-key hook) and as it is (``loads_strict``: also refusing
NaN/Infinity, out-of-range numbers and nesting deeper than 64); and the whole body parse.
Each for the compact body and for ``tradeAmt``/``extendInfo`` sent as JSON strings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from asap_sync.wire.messages import parse_sync_body
from asap_sync.wire.strict_json import loads_strict

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


def _duplicates_refused(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(key)
        result[key] = value
    return result


def _previous_json(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_duplicates_refused)


def _median_us(parse: Callable[[Any], Any], raw: Any, rounds: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            parse(raw)
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
    for name, raw in (("objects", compact), ("strings", stringly)):
        text = raw.decode()
        before = _median_us(_previous_json, text, args.rounds)
        after = _median_us(loads_strict, text, args.rounds)
        whole = _median_us(parse_sync_body, raw, args.rounds)
        print(
            f"{name}: JSON step {before:.1f} µs before, {after:.1f} µs strict "
            f"({after / before:.2f}x); whole body parse {whole:.1f} µs"
        )


if __name__ == "__main__":
    main()
