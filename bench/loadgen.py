"""Replay a file of pre-signed HTTP/1.1 requests at a server; no signing while timing.

Run as its own process so that its CPU is measured apart from the orchestrator's:

    python bench/loadgen.py REQUESTS_FILE --port 8000 --concurrency 32 --warmup 500

The file holds length-prefixed raw requests (see :func:`write_requests`). The first ``--warmup``
requests are sent untimed (caches, connection pools, both workers up); the rest are timed.
Each connection is kept alive and sends one request at a time. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import struct
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUCCESS = b'"invokeResult":"SUCCESS"'
_LENGTH = struct.Struct(">I")


def write_requests(path: Path, requests: Iterable[bytes]) -> int:
    """Write raw requests, each prefixed by its 4-byte big-endian length; returns the count."""
    count = 0
    with path.open("wb") as out:
        for raw in requests:
            out.write(_LENGTH.pack(len(raw)))
            out.write(raw)
            count += 1
    return count


def read_requests(path: Path) -> list[bytes]:
    """The raw requests of a file written by :func:`write_requests`."""
    data = path.read_bytes()
    requests, offset = [], 0
    while offset < len(data):
        (size,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        requests.append(data[offset : offset + size])
        offset += size
    return requests


@dataclass
class Tally:
    """What the connections saw."""

    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    failed: int = 0
    samples: list[str] = field(default_factory=list)

    def count(self, status: int, body: bytes, latency: float) -> None:
        self.latencies.append(latency)
        if status == 200 and SUCCESS in body:
            self.ok += 1
            return
        self.failed += 1
        if len(self.samples) < 5:
            self.samples.append(f"{status} {body[:300].decode('utf-8', 'replace')}")


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(host: str, port: int, work: Iterator[bytes], tally: Tally | None) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for raw in work:  # one shared iterator: each request is sent exactly once
            started = time.perf_counter()
            try:
                status, body = await _exchange(reader, writer, raw)
            except (OSError, asyncio.IncompleteReadError) as exc:
                status, body = 0, repr(exc).encode()
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            if tally is not None:
                tally.count(status, body, time.perf_counter() - started)
    finally:
        writer.close()


async def replay(
    requests: list[bytes], *, host: str, port: int, concurrency: int, warmup: int
) -> dict[str, object]:
    """Send the warm-up requests, then time the rest; a summary as a JSON-ready dict."""
    if warmup:
        head = iter(requests[:warmup])
        await asyncio.gather(*(_connection(host, port, head, None) for _ in range(concurrency)))
    tally, timed = Tally(), iter(requests[warmup:])
    cpu_before, started = _cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(_connection(host, port, timed, tally) for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "ok": tally.ok,
        "failed": tally.failed,
        "samples": tally.samples,
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "cpu_seconds": _cpu_seconds() - cpu_before,
    }


def _percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests_file", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=0)
    args = parser.parse_args(argv)
    requests = read_requests(args.requests_file)
    run = replay(
        requests,
        host=args.host,
        port=args.port,
        concurrency=args.concurrency,
        warmup=args.warmup,
    )
    try:
        import uvloop  # the lighter event loop keeps the generator off the critical path
    except ImportError:
        summary = asyncio.run(run)
    else:
        summary = uvloop.run(run)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
