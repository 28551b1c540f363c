"""What observing costs an accepted sync: the observer calls of one sync, per observer.

    .venv/bin/python bench/observer_overhead.py --syncs 100000 --rounds 5

Replays the calls the pipeline makes for one accepted sync (the request, verify, batch_write
and sign steps, the batch and the answer) against: the no-op observer, the Prometheus observer
in one process, the Prometheus observer in multiprocess mode (what ``serve`` runs), and the
OpenTelemetry observer with the SDK (spans built, then dropped by the exporter), every request
traced or one in a hundred sampled. Prints the
median microseconds per sync of each, and the same as a share of one RSA-2048 answer signature
measured in the same run (every sync costs at least that).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def one_sync(observer: Any) -> None:
    with observer.step("request", api="externalInfoSync"):
        with observer.step("verify"):
            pass
        with observer.step("batch_write", size=1):
            pass
        observer.batch_written(size=1)
        with observer.step("sign"):
            pass
        observer.answered(api="externalInfoSync", code="SUCCESS", seconds=0.002)


def per_sync_us(observer: Any, syncs: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(syncs):
            one_sync(observer)
        times.append((time.perf_counter() - started) / syncs * 1e6)
    return statistics.median(times)


def signature_us(rounds: int) -> float:
    from asap_sync.wire import generate_private_key, sign

    key = generate_private_key()
    content = b"POST /amsin/commercial/certificate/accept\n" + b"x" * 600
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(200):
            sign(content, key)
        times.append((time.perf_counter() - started) / 200 * 1e6)
    return statistics.median(times)


def observers(directory: str) -> Sequence[tuple[str, Callable[[], Any]]]:
    from asap_sync.http.metrics import MULTIPROCESS_ENV, PrometheusObserver
    from asap_sync.service.observer import NULL_OBSERVER

    def multiprocess() -> Any:
        from prometheus_client import values

        os.environ[MULTIPROCESS_ENV] = directory
        values.ValueClass = values.get_value_class()
        return PrometheusObserver()

    def traced(ratio: float = 1.0) -> Any:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            SimpleSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        from asap_sync.http.tracing import TracingObserver

        class Dropped(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
        provider.add_span_processor(SimpleSpanProcessor(Dropped()))
        return TracingObserver(provider.get_tracer("bench"))

    return [
        ("no-op observer", lambda: NULL_OBSERVER),
        ("Prometheus, one process", PrometheusObserver),
        ("Prometheus, multiprocess files", multiprocess),
        ("OpenTelemetry SDK spans", traced),
        ("OpenTelemetry SDK spans, 1 % sampled", lambda: traced(0.01)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--syncs", type=int, default=100_000, help="syncs per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    signing = signature_us(args.rounds)
    print(f"one RSA-2048 signature: {signing:.1f} µs (median of {args.rounds} rounds)\n")
    print("| observer | µs per sync | share of one signature |")
    print("| --- | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="asap-bench-metrics-") as directory:
        for name, make in observers(directory):
            cost = per_sync_us(make(), args.syncs, args.rounds)
            print(f"| {name} | {cost:.2f} | {cost / signing:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
