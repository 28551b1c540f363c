"""Replay a file of pre-signed HTTP/1.1 requests at a server; no signing while timing.

Run as its own process so that its CPU is measured apart from the orchestrator's:

    python bench/loadgen.py REQUESTS_FILE --port 8000 --concurrency 32 [--first N] [--count M]
    python bench/loadgen.py REQUESTS_FILE --port 8000 --concurrency 32 --rate 800

The file holds length-prefixed raw requests (see :func:`write_requests`); ``--first`` and
``--count`` pick a slice of them (a warm-up is one invocation, the timed run the next). Each
connection is kept alive and sends one request at a time.

- **Closed loop** (default): every connection sends its next request as soon as the previous
  answer is in; latency is from send to answer.
- **Open loop** (``--rate R``): request *i* is due at ``start + i / R`` whatever the server
  does; a due request waits for a free connection in a queue. Latency is measured from the
  **scheduled** time, not from the actual send, so a server that falls behind is charged for
  the requests it kept waiting (no coordinated omission).

Prints one JSON object.
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
from typing import Any

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


async def _send(conn: list[Any], host: str, port: int, raw: bytes) -> tuple[int, bytes]:
    """One exchange on ``conn`` ([reader, writer]), reconnecting after a broken connection."""
    try:
        return await _exchange(conn[0], conn[1], raw)
    except (OSError, asyncio.IncompleteReadError) as exc:
        conn[1].close()
        conn[:] = await asyncio.open_connection(host, port)
        return 0, repr(exc).encode()


async def _closed_connection(host: str, port: int, work: Iterator[bytes], tally: Tally) -> None:
    conn: list[Any] = list(await asyncio.open_connection(host, port))
    try:
        for raw in work:  # one shared iterator: each request is sent exactly once
            started = time.perf_counter()
            status, body = await _send(conn, host, port, raw)
            tally.count(status, body, time.perf_counter() - started)
    finally:
        conn[1].close()


async def _open_connection(
    host: str, port: int, due: asyncio.Queue[tuple[bytes, float] | None], tally: Tally
) -> None:
    conn: list[Any] = list(await asyncio.open_connection(host, port))
    try:
        while (item := await due.get()) is not None:
            raw, scheduled = item
            status, body = await _send(conn, host, port, raw)
            tally.count(status, body, time.perf_counter() - scheduled)
    finally:
        conn[1].close()


async def _schedule(
    requests: list[bytes], rate: float, due: asyncio.Queue[tuple[bytes, float] | None]
) -> float:
    """Put each request in the queue at its due time; returns the largest lag of a hand-over
    behind its schedule (the generator's own lateness, already inside the latencies)."""
    start, lag = time.perf_counter() + 0.005, 0.0
    for n, raw in enumerate(requests):
        scheduled = start + n / rate
        now = time.perf_counter()
        if scheduled > now:
            await asyncio.sleep(scheduled - now)
            now = time.perf_counter()
        lag = max(lag, now - scheduled)
        due.put_nowait((raw, scheduled))
    return lag


async def replay(
    requests: list[bytes], *, host: str, port: int, concurrency: int, rate: float | None = None
) -> dict[str, object]:
    """Send every request (closed loop, or open loop at ``rate`` per second); a summary."""
    tally = Tally()
    cpu_before, started = _cpu_seconds(), time.perf_counter()
    lag = 0.0
    if rate is None:
        work = iter(requests)
        await asyncio.gather(
            *(_closed_connection(host, port, work, tally) for _ in range(concurrency))
        )
    else:
        due: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue()
        workers = [
            asyncio.create_task(_open_connection(host, port, due, tally))
            for _ in range(concurrency)
        ]
        lag = await _schedule(requests, rate, due)
        for _ in workers:
            due.put_nowait(None)
        await asyncio.gather(*workers)
    seconds = time.perf_counter() - started
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "ok": tally.ok,
        "failed": tally.failed,
        "samples": tally.samples,
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "rate": rate,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "schedule_lag_ms": lag * 1000,
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
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--first", type=int, default=0, help="index of the first request sent")
    parser.add_argument("--count", type=int, default=None, help="requests sent (default: all)")
    parser.add_argument("--rate", type=float, default=None, help="open loop: requests per second")
    args = parser.parse_args(argv)
    requests = read_requests(args.requests_file)
    last = None if args.count is None else args.first + args.count
    run = replay(
        requests[args.first : last],
        host=args.host,
        port=args.port,
        concurrency=args.concurrency,
        rate=args.rate,
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
