"""Bulk send against the server's own capacity, same machine, same run.

    .venv/bin/python bench/bulk_send.py --db sqlite --rows 20000 --rounds 3
    .venv/bin/python bench/bulk_send.py --db postgres --rows 20000 --rounds 3

Each round writes ``--rows`` transactions as JSONL (the ingestion benchmark's workload, so both
sides send the same bodies), then, on a fresh database and a fresh two-worker server each:

- **bulk send**: ``asap-sync merchant-side bulk-send`` as a subprocess, timed from start to exit
  (process start, counting, checking, signing, sending, verifying, results file included);
- **capacity**: the ingestion benchmark's ``run_one`` (pre-signed requests replayed by its load
  generator, ``--capacity-connections`` keep-alive connections, untimed warm-up).

The order alternates between rounds. Client and server share this machine's cores, so the
client's CPU (parent and signing workers, from ``getrusage``) is reported per 1,000 rows: that
is what a bulk send takes away from the server. ``--client-src`` runs the bulk-send client
from another source tree (e.g. an older checkout) against this tree's server, for before/after.
Exits 1 if the bulk send did not exit 0 or a row is missing.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16, help="bulk-send --concurrency")
    parser.add_argument("--capacity-connections", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=500, help="untimed capacity requests")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--log-level", default="info", help="ASAP_SYNC_LOG_LEVEL of the server")
    parser.add_argument("--client-src", type=Path, default=REPO / "src")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    from bench.compare import Options

    with tempfile.TemporaryDirectory(prefix="asap-bulk-bench-") as tmp:
        options = Options(
            db=args.db,
            requests=args.rows,
            rounds=args.rounds,
            concurrency=args.capacity_connections,
            warmup=args.warmup,
            workers=args.workers,
            postgres_url=args.postgres_url,
            product_log_level=args.log_level,
            workdir=Path(tmp),
        )
        results = _run_rounds(options, args)
    print(_summary(results, options, args))
    return 0 if all(r["ok"] for r in results if r["variant"] == "bulk send") else 1


def _run_rounds(options: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    from asap_sync.wire import generate_private_key
    from bench.compare import run_one
    from bench.loadgen import write_requests
    from bench.workload import Keys, presign

    keys = Keys.load(generate_private_key())
    keys_file = options.workdir / "baseline-keys.json"
    keys.write_baseline_file(keys_file)
    results: list[dict[str, Any]] = []
    for round_no in range(1, options.rounds + 1):
        tag = f"r{round_no}-{uuid.uuid4().hex[:8]}"
        rows_file = _write_rows(options.workdir / f"rows-{round_no}.jsonl", options.requests, tag)
        order = ("capacity", "bulk send") if round_no % 2 else ("bulk send", "capacity")
        for variant in order:
            if variant == "capacity":
                signed = presign(options.requests + options.warmup, f"c{tag}", keys)
                requests_file = options.workdir / f"requests-{round_no}.bin"
                write_requests(requests_file, signed)
                result = run_one("product", round_no, requests_file, keys, keys_file, options)
                result.update(variant="capacity", rate=result["rps"])
                result["ok"] = result["ok"] == result["requests"]
                requests_file.unlink()
            else:
                result = _bulk_round(round_no, rows_file, keys, options, args)
            results.append(result)
            _say(_line(result))
        rows_file.unlink()
    return results


def _write_rows(path: Path, count: int, tag: str) -> Path:
    """The ingestion workload's bodies, one JSON object a line: a valid bulk-send input."""
    from bench.workload import body_of

    now, rng = datetime.now(UTC), random.Random(11)
    with path.open("wb") as out:
        for n in range(count):
            out.write(body_of(n, tag, now, rng) + b"\n")
    return path


def _bulk_round(
    round_no: int, rows_file: Path, keys: Any, options: Any, args: argparse.Namespace
) -> dict[str, Any]:
    from asap_sync.storage.engine import make_engine
    from asap_sync.storage.migrate import upgrade
    from asap_sync.wire import private_key_pem, public_key_base64
    from bench.harness import (
        asgi_server,
        count_rows,
        fresh_database,
        machine_busy,
        process_tree_cpu,
    )
    from bench.workload import CLIENT_ID, register

    workdir = options.workdir / f"bulk-{round_no}"
    workdir.mkdir(parents=True, exist_ok=True)
    private = workdir / "merchant-private.pem"
    private.write_text(private_key_pem(keys.client))
    with fresh_database(options.db, workdir, options.postgres_url) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            register(engine, keys)
        finally:
            engine.dispose()
        env = {
            "ASAP_SYNC_DATABASE_URL": url,
            "ASAP_SYNC_DATA_DIR": str(workdir),
            "ASAP_SYNC_LOG_LEVEL": options.product_log_level,
        }
        log = workdir / "server.log"
        with asgi_server("asap_sync.bootstrap:create_app", env, log, workers=options.workers) as (
            port,
            process,
        ):
            command = [
                sys.executable,
                "-c",
                "from asap_sync.cli.main import main; main()",
                "merchant-side",
                "bulk-send",
                str(rows_file),
                "--results",
                str(workdir / "results.jsonl"),
                "--concurrency",
                str(args.concurrency),
                "--no-progress",
            ]
            client_env = {
                **os.environ,
                "PYTHONPATH": str(args.client_src),
                "ASAP_SYNC_BASE_URL": f"http://127.0.0.1:{port}",
                "ASAP_SYNC_CLIENT_ID": CLIENT_ID,
                "ASAP_SYNC_PRIVATE_KEY": str(private),
                "ASAP_SYNC_PLATFORM_PUBLIC_KEY": public_key_base64(keys.platform.public_key()),
            }
            server_before, busy_before = process_tree_cpu(process.pid), machine_busy()
            client_before = _children_cpu()
            started = time.perf_counter()
            done = subprocess.run(command, env=client_env, capture_output=True, check=False)
            seconds = time.perf_counter() - started
            client_cpu = _children_cpu() - client_before
            server_after, busy_after = process_tree_cpu(process.pid), machine_busy()
        rows = count_rows(url, "transactions")
    if done.returncode != 0:
        _say(done.stdout.decode(errors="replace")[-2000:] + done.stderr.decode(errors="replace"))
    count = options.requests
    return {
        "variant": "bulk send",
        "round": round_no,
        "rate": count / seconds,
        "seconds": seconds,
        "exit": done.returncode,
        "rows": rows,
        "ok": done.returncode == 0 and rows == count,
        "client_cpu_s_per_1000": client_cpu * 1000 / count,
        "client_cores": client_cpu / seconds,
        "server_cpu_ms": (server_after - server_before) * 1000 / count,
        "busy_pct": 100 * (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _line(r: dict[str, Any]) -> str:
    text = f"  {r['variant']:<9} #{r['round']}  {r['rate']:7.0f}/s"
    text += f"  server CPU {r['server_cpu_ms']:.2f} ms/req  machine busy {r['busy_pct']:.0f}%"
    if r["variant"] == "bulk send":
        text += (
            f"  client CPU {r['client_cpu_s_per_1000']:.2f} s/1000 rows"
            f" ({r['client_cores']:.2f} cores)  exit {r['exit']}  rows {r['rows']}"
        )
    else:
        text += f"  p50 {r['p50_ms']:.1f} ms  ok {r['ok']}  rows {r['rows']}"
    return text


def _summary(results: list[dict[str, Any]], options: Any, args: argparse.Namespace) -> str:
    bulk = [r for r in results if r["variant"] == "bulk send"]
    capacity = [r for r in results if r["variant"] == "capacity"]
    bulk_rate = statistics.median(r["rate"] for r in bulk)
    capacity_rate = statistics.median(r["rate"] for r in capacity)

    def runs(items: list[dict[str, Any]]) -> str:
        return ", ".join(format(r["rate"], ".0f") for r in items)

    lines = [
        f"{options.db}: {options.requests} rows/run, {options.rounds} rounds, "
        f"{options.workers} server workers, bulk-send --concurrency {args.concurrency}, "
        f"capacity over {options.concurrency} connections, {os.cpu_count()} cores shared",
        "",
        "| measure | median | runs | server CPU ms/req | client CPU s/1000 rows |",
        "| --- | ---: | --- | ---: | ---: |",
        f"| bulk send, rows/s | {bulk_rate:.0f} | {runs(bulk)} "
        f"| {statistics.median(r['server_cpu_ms'] for r in bulk):.2f} "
        f"| {statistics.median(r['client_cpu_s_per_1000'] for r in bulk):.2f} |",
        f"| server capacity, req/s | {capacity_rate:.0f} | {runs(capacity)} "
        f"| {statistics.median(r['server_cpu_ms'] for r in capacity):.2f} | - |",
        "",
        f"bulk send / capacity (medians): **{bulk_rate / capacity_rate:.2f}**",
    ]
    return "\n".join(lines)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
