"""Alternating baseline and product runs on fresh databases, and the table of their medians.

A round signs its requests, then runs every variant closed-loop (``--concurrency`` connections,
one request in flight each), then every variant open-loop at a constant rate (half the
product's closed-loop capacity of the first round, unless ``--open-rate`` fixes it). Each run
gets a fresh database and a fresh server; the order of the variants rotates between rounds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import text

from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from asap_sync.wire import generate_private_key
from bench.harness import (
    PYTHONPATH,
    asgi_server,
    backend_pids,
    count_rows,
    cpu_of,
    fresh_database,
    machine_busy,
    process_tree_cpu,
)
from bench.loadgen import write_requests
from bench.workload import Keys, presign, register

LOADGEN = Path(__file__).with_name("loadgen.py")
BASELINE_TABLE = "bench_baseline_requests"
BASELINE_SCHEMA = (
    f"CREATE TABLE {BASELINE_TABLE} (client_id TEXT NOT NULL, request_id TEXT NOT NULL, "
    "request_time TEXT NOT NULL, signature TEXT NOT NULL, body {} NOT NULL, "
    "PRIMARY KEY (client_id, request_id))"
)


@dataclass(frozen=True, kw_only=True)
class Variant:
    """One server under test: an ASGI factory, the server that runs it, extra environment."""

    factory: str
    table: str
    server: str = "uvicorn"
    env: Mapping[str, str] = field(default_factory=dict)


_BASELINE = Variant(factory="bench.baseline_app:create_app", table=BASELINE_TABLE)
_PRODUCT = Variant(factory="asap_sync.bootstrap:create_app", table="transactions")
VARIANTS = {
    "product": _PRODUCT,
    # The writer never waits for the syncs on their way (group commit takes what is queued).
    "product-nowait": replace(_PRODUCT, env={"ASAP_SYNC_BATCH_WAIT_MS": "0"}),
    # No log line per answer (the level above info), whatever --product-log-level says.
    "product-quiet": replace(_PRODUCT, env={"ASAP_SYNC_LOG_LEVEL": "warning"}),
    # The workers' GIL switch interval set rather than chosen by database (1 ms SQLite, 2 PG).
    **{
        f"product-switch{ms}ms": replace(_PRODUCT, env={"ASAP_SYNC_SWITCH_INTERVAL_MS": ms})
        for ms in ("0.25", "1", "2", "5")
    },
    "baseline": _BASELINE,  # asyncpg on PostgreSQL, sqlite3 on SQLite, under uvicorn
    "baseline-asyncpg": replace(_BASELINE, env={"BENCH_PG_DRIVER": "asyncpg"}),
    "baseline-psycopg": replace(_BASELINE, env={"BENCH_PG_DRIVER": "psycopg"}),
    "baseline-granian": replace(_BASELINE, server="granian"),
    "baseline-busy": replace(_BASELINE, env={"BENCH_SQLITE_LOCK": "busy"}),
}


@dataclass(frozen=True, kw_only=True)
class Options:
    """What one invocation measures."""

    db: str
    requests: int
    rounds: int
    concurrency: int
    warmup: int
    workers: int
    postgres_url: str
    product_log_level: str
    workdir: Path
    variants: tuple[str, ...] = ("baseline", "product")
    open_seconds: float = 0.0
    open_rate: float | None = None
    open_fraction: float = 0.5


def run_all(options: Options) -> list[dict[str, Any]]:
    """``rounds`` rounds of closed-loop runs, each followed by open-loop runs when asked."""
    keys = Keys.load(generate_private_key())
    keys_file = options.workdir / "baseline-keys.json"
    keys.write_baseline_file(keys_file)
    results: list[dict[str, Any]] = []
    rate = options.open_rate
    for round_no in range(1, options.rounds + 1):
        shift = (round_no - 1) % len(options.variants)
        order = options.variants[shift:] + options.variants[:shift]
        closed = _signed_file(options, keys, round_no, "closed", options.requests)
        for name in order:
            results.append(run_one(name, round_no, closed, keys, keys_file, options))
            _say(_row(results[-1]))
        closed.unlink()
        if not options.open_seconds:
            continue
        if rate is None:
            rate = options.open_fraction * _capacity(results)
        count = max(1, round(rate * options.open_seconds))
        opened = _signed_file(options, keys, round_no, "open", count)
        for name in order:
            results.append(run_one(name, round_no, opened, keys, keys_file, options, rate=rate))
            _say(_row(results[-1]))
        opened.unlink()
    return results


def _capacity(results: list[dict[str, Any]]) -> float:
    """The product's closed-loop throughput so far (the first variant's without a product)."""
    runs = [r for r in results if r["variant"] == "product"] or results
    return float(statistics.median(r["rps"] for r in runs))


def _signed_file(options: Options, keys: Keys, round_no: int, kind: str, count: int) -> Path:
    started = time.perf_counter()
    signed = presign(count + options.warmup, f"{kind[0]}{uuid.uuid4().hex[:8]}", keys)
    path = options.workdir / f"requests-{round_no}-{kind}.bin"
    write_requests(path, signed)
    _say(f"round {round_no}: signed {len(signed)} in {time.perf_counter() - started:.1f} s")
    return path


def run_one(
    name: str,
    round_no: int,
    requests_file: Path,
    keys: Keys,
    keys_file: Path,
    options: Options,
    *,
    rate: float | None = None,
) -> dict[str, Any]:
    """One server on one fresh database: warm-up, the timed load, then the rows counted."""
    variant = VARIANTS[name]
    workdir = options.workdir / f"{name}-{round_no}-{'open' if rate else 'closed'}"
    workdir.mkdir(parents=True, exist_ok=True)
    with fresh_database(options.db, workdir, options.postgres_url) as url:
        _prepare(url, variant, keys)
        env = {
            "ASAP_SYNC_DATABASE_URL": url,
            "ASAP_SYNC_DATA_DIR": str(workdir),
            "ASAP_SYNC_LOG_LEVEL": options.product_log_level,
            "BENCH_DATABASE_URL": url,
            "BENCH_KEYS_FILE": str(keys_file),
            **variant.env,
        }
        log = workdir / "server.log"
        with asgi_server(
            variant.factory, env, log, workers=options.workers, server=variant.server
        ) as (port, process):
            _load(requests_file, port, options, first=0, count=options.warmup, rate=None)
            backends = backend_pids(options.postgres_url, url)
            server_before, db_before = process_tree_cpu(process.pid), cpu_of(backends)
            busy_before = machine_busy()
            result = _load(requests_file, port, options, first=options.warmup, rate=rate)
            busy_after = machine_busy()
            server_after = process_tree_cpu(process.pid)
            db_after = cpu_of(backend_pids(options.postgres_url, url))
        result["rows"] = count_rows(url, variant.table)
    requests = max(1, result["requests"])
    result.update(variant=name, round=round_no, mode="open" if rate else "closed")
    result["server_cpu_ms"] = (server_after - server_before) * 1000 / requests
    db_seconds = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in db_after.items())
    result["db_cpu_ms"] = db_seconds * 1000 / requests if db_after else None
    result["busy_pct"] = 100 * (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
    result["gen_cpu_pct"] = 100 * result["cpu_seconds"] / result["seconds"]
    result["expected_rows"] = requests + options.warmup
    return result


def _prepare(url: str, variant: Variant, keys: Keys) -> None:
    engine = make_engine(url)
    try:
        if variant.table == "transactions":
            upgrade(engine)
            register(engine, keys)
        else:
            blob = "BYTEA" if url.startswith("postgresql") else "BLOB"
            with engine.begin() as conn:
                conn.execute(text(BASELINE_SCHEMA.format(blob)))
    finally:
        engine.dispose()


def _load(
    requests_file: Path,
    port: int,
    options: Options,
    *,
    first: int,
    rate: float | None,
    count: int | None = None,
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(LOADGEN),
        str(requests_file),
        "--port",
        str(port),
        "--concurrency",
        str(options.concurrency),
        "--first",
        str(first),
    ]
    command += [] if count is None else ["--count", str(count)]
    command += [] if rate is None else ["--rate", f"{rate:.1f}"]
    done = subprocess.run(
        command,
        capture_output=True,
        check=True,
        env={"PYTHONPATH": PYTHONPATH, "PATH": "/usr/bin:/bin"},
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _row(r: dict[str, Any]) -> str:
    mode = f"open {r['rate']:.0f}/s" if r["rate"] else "closed"
    db = f"  db CPU {r['db_cpu_ms']:.2f} ms/req" if r["db_cpu_ms"] is not None else ""
    return (
        f"  {r['variant']:<16} #{r['round']} {mode:<12} {r['rps']:7.0f} req/s"
        f"  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  max {r['max_ms']:6.0f} ms"
        f"  ok {r['ok']}/{r['requests']}  rows {r['rows']}"
        f"  server CPU {r['server_cpu_ms']:.2f} ms/req{db}  machine busy {r['busy_pct']:.0f}%"
        f"  generator CPU {r['gen_cpu_pct']:.0f}%"
        + (f"  failures e.g. {r['samples'][0]}" if r["samples"] else "")
    )


def summary(results: list[dict[str, Any]], options: Options) -> str:
    """The median tables (closed loop, open loop) and the throughput ratio, as Markdown."""
    lines = [
        f"{options.db}: {options.requests} requests/closed run, {options.rounds} rounds, "
        f"{options.workers} workers, {options.concurrency} connections",
        "",
        "| variant | req/s (median) | req/s (runs) | p50 ms | p99 ms | server CPU ms/req "
        "| DB CPU ms/req | success / sent |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    medians = {}
    for name in options.variants:
        runs = [r for r in results if r["variant"] == name and r["mode"] == "closed"]
        medians[name] = statistics.median(r["rps"] for r in runs)
        lines.append(f"| {name} | {medians[name]:.0f} " + _cells(runs, rps=True))
    if "product" in medians and "baseline" in medians:
        ratio = medians["product"] / medians["baseline"]
        lines += ["", f"product / baseline throughput (medians): **{ratio:.2f}**"]
    opened = [r for r in results if r["mode"] == "open"]
    if opened:
        lines += [
            "",
            f"open loop at {opened[0]['rate']:.0f} requests/s, latency from the scheduled send:",
            "",
            "| variant | p99 ms (runs) | p50 ms | p99 ms | server CPU ms/req | DB CPU ms/req "
            "| success / sent |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for name in options.variants:
            runs = [r for r in opened if r["variant"] == name]
            lines.append(f"| {name} " + _cells(runs, rps=False))
    return "\n".join(lines)


def _cells(runs: list[dict[str, Any]], *, rps: bool) -> str:
    db = [r["db_cpu_ms"] for r in runs if r["db_cpu_ms"] is not None]
    runs_of = "rps" if rps else "p99_ms"
    cells = [", ".join(format(r[runs_of], ".0f" if rps else ".1f") for r in runs)]
    cells += [
        f"{statistics.median(r['p50_ms'] for r in runs):.1f}",
        f"{statistics.median(r['p99_ms'] for r in runs):.1f}",
        f"{statistics.median(r['server_cpu_ms'] for r in runs):.2f}",
        f"{statistics.median(db):.2f}" if db else "in-process",
        f"{sum(r['ok'] for r in runs)} / {sum(r['requests'] for r in runs)}",
    ]
    return "| " + " | ".join(cells) + " |"


def all_succeeded(results: list[dict[str, Any]]) -> bool:
    """Every timed answer was SUCCESS and every request left its row."""
    return all(r["ok"] == r["requests"] and r["rows"] == r["expected_rows"] for r in results)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
