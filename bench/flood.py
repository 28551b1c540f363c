"""Signed pays under a flood of unauthenticated garbage: what share of their throughput is kept.

    .venv/bin/python bench/flood.py --db sqlite --requests 4000 --rounds 3
    .venv/bin/python bench/flood.py --db postgres --requests 4000 --rounds 3

Each round runs the product (2 workers) on a fresh database twice, alternating which run goes
first: legitimate signed pays alone (16 keep-alive connections from 127.0.0.1), and the same
while ``--flood-connections`` connections from another address (127.0.0.2) send requests with
wrong signatures as fast as the server answers them. Both load generators are processes of
their own. Prints each run, the flood's answers, and the median ratio of pays per second with
and without the flood. Exits 1 if a pay was not accepted or a flood answer was not signed 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
FLOOD_SOURCE = "127.0.0.2"


def _garbage(n: int) -> bytes:
    body = b'{"merchantId":"2160120033934460","requestId":"flood-%d"}' % n
    return (
        b"POST /amsin/commercial/certificate/accept HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json; charset=UTF-8\r\n"
        b"Client-Id: 211020000000000000044\r\nRequest-Time: 2026-01-01T00:00:00Z\r\n"
        b"Signature: algorithm=RSA256,keyVersion=1,signature=bm90IGEgc2lnbmF0dXJl\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


async def _flood_connection(port: int, stop: asyncio.Event, codes: Counter[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(FLOOD_SOURCE, 0))
    n = 0
    while not stop.is_set():
        writer.write(_garbage(n))
        n += 1
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].decode()
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        signed = b"\r\nsignature: " in head.lower()
        code = json.loads(body).get("errorCode", "SUCCESS") if status == "200" else status
        codes[code if signed or status != "200" else f"{code} (unsigned)"] += 1
    writer.close()


async def _flood(port: int, connections: int) -> Counter[str]:
    codes: Counter[str] = Counter()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await asyncio.gather(*(_flood_connection(port, stop, codes) for _ in range(connections)))
    return codes


def flood_main(port: int, connections: int) -> None:
    """The flood generator's own process, until SIGTERM: prints its answer codes as JSON."""
    codes = asyncio.run(_flood(port, connections))
    print(json.dumps(dict(codes)))


def _legit(port: int, requests_file: Path, concurrency: int) -> dict[str, float]:
    """A warm-up of 200 pays, then the rest timed (each its own load generator process)."""
    summary: dict[str, float] = {}
    for part in (("--first", "0", "--count", "200"), ("--first", "200")):
        out = subprocess.run(
            [
                *(sys.executable, str(REPO / "bench" / "loadgen.py"), str(requests_file)),
                *("--port", str(port), "--concurrency", str(concurrency), *part),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        summary = json.loads(out.stdout)
    return summary


def _run(args: argparse.Namespace, workdir: Path, flooded: bool) -> tuple[float, Counter[str]]:
    from asap_sync.storage.engine import make_engine
    from asap_sync.storage.migrate import upgrade
    from asap_sync.wire import generate_private_key
    from bench.harness import asgi_server, fresh_database
    from bench.loadgen import write_requests
    from bench.workload import Keys, presign, register

    keys = Keys.load(generate_private_key())
    workdir.mkdir(parents=True, exist_ok=True)
    requests_file = workdir / f"requests-{flooded}.bin"
    write_requests(requests_file, presign(args.requests + 200, f"f{time.time_ns()}", keys))
    with fresh_database(args.db, workdir / f"db-{flooded}", args.postgres_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        register(engine, keys)
        engine.dispose()
        env = {"ASAP_SYNC_DATABASE_URL": url, "ASAP_SYNC_LOG_LEVEL": "warning"}
        log = workdir / f"server-{flooded}.log"
        with asgi_server("asap_sync.bootstrap:create_app", env, log, workers=2) as (port, _):
            flood = None
            if flooded:
                flood = subprocess.Popen(
                    [
                        *(sys.executable, str(Path(__file__).resolve()), "--flood-only"),
                        *(str(port), "--flood-connections", str(args.flood_connections)),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                time.sleep(1.0)  # the flood is under way before the pays are timed
            summary = _legit(port, requests_file, args.concurrency)
            codes: Counter[str] = Counter()
            if flood is not None:
                flood.terminate()
                out, _ = flood.communicate(timeout=30)
                codes = Counter(json.loads(out or "{}"))
    if summary["ok"] != summary["requests"]:
        raise SystemExit(f"only {summary['ok']} of {summary['requests']} pays were accepted")
    return float(summary["rps"]), codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=4000, help="timed pays per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--flood-connections", type=int, default=16)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--flood-only", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood_only:
        flood_main(args.flood_only, args.flood_connections)
        return 0
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            order = (False, True) if n % 2 == 0 else (True, False)
            rps: dict[bool, float] = {}
            for flooded in order:
                rps[flooded], codes = _run(args, Path(tmp) / f"r{n}", flooded)
                if flooded:
                    print(f"round {n + 1}: flood answers {dict(codes)}")
                    if any(not c.isupper() or "unsigned" in c for c in codes):
                        print("a flood answer was not a signed 200")
                        return 1
            ratios.append(rps[True] / rps[False])
            print(
                f"round {n + 1}: pays alone {rps[False]:.0f}/s, under the flood "
                f"{rps[True]:.0f}/s, kept {ratios[-1]:.0%}"
            )
    print(f"median share kept under the flood: {statistics.median(ratios):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
