"""The cost of joining a caller's trace: ``join_caller_trace`` per request, in microseconds.

    .venv/bin/python bench/trace_join.py --calls 200000 --rounds 5

Three cases: tracing off (no TracingObserver in the process), tracing on without a
``traceparent`` header, tracing on with one (W3C extraction, attach and detach of the context).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Mapping

from opentelemetry.sdk.trace import TracerProvider

from asap_sync.http.tracing import TracingObserver, join_caller_trace

HEADERS = {"content-type": "application/json; charset=UTF-8", "client-id": "client-1"}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def per_call(headers: Mapping[str, str], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        with join_caller_trace(headers):
            pass
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    off = [per_call(HEADERS, args.calls) for _ in range(args.rounds)]
    TracingObserver(TracerProvider().get_tracer("bench"))  # tracing on from here
    without = [per_call(HEADERS, args.calls) for _ in range(args.rounds)]
    joined = {**HEADERS, "traceparent": TRACEPARENT}
    with_header = [per_call(joined, args.calls) for _ in range(args.rounds)]
    for label, times in (
        ("tracing off", off),
        ("tracing on, no traceparent", without),
        ("tracing on, traceparent", with_header),
    ):
        print(f"{label:28} median {statistics.median(times):6.2f} µs per request")


if __name__ == "__main__":
    main()
