"""Alternating baseline and product runs on fresh databases, and the table of their medians."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from asap_sync.storage.tables import transactions
from asap_sync.wire import generate_private_key
from bench.baseline_app import baseline_requests
from bench.baseline_app import metadata as baseline_metadata
from bench.harness import (
    PYTHONPATH,
    count_rows,
    fresh_database,
    machine_busy,
    process_tree_cpu,
    uvicorn_server,
)
from bench.loadgen import write_requests
from bench.workload import Keys, presign, register

LOADGEN = Path(__file__).with_name("loadgen.py")
FACTORIES = {
    "baseline": "bench.baseline_app:create_app",
    "product": "asap_sync.bootstrap:create_app",
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


def run_all(options: Options) -> list[dict[str, Any]]:
    """``rounds`` rounds; each signs a fresh set, then runs baseline and product on it (the
    order alternates between rounds) on a fresh database each."""
    keys = Keys.load(generate_private_key())
    keys_file = options.workdir / "baseline-keys.json"
    keys.write_baseline_file(keys_file)
    results: list[dict[str, Any]] = []
    for round_no in range(1, options.rounds + 1):
        started = time.perf_counter()
        signed = presign(options.requests + options.warmup, f"b{uuid.uuid4().hex[:8]}", keys)
        requests_file = options.workdir / f"requests-{round_no}.bin"
        write_requests(requests_file, signed)
        _say(f"round {round_no}: signed {len(signed)} in {time.perf_counter() - started:.1f} s")
        order = ("baseline", "product") if round_no % 2 else ("product", "baseline")
        for variant in order:
            result = run_one(variant, round_no, requests_file, keys, keys_file, options)
            results.append(result)
            _say(_row(result))
        requests_file.unlink()
    return results


def run_one(
    variant: str,
    round_no: int,
    requests_file: Path,
    keys: Keys,
    keys_file: Path,
    options: Options,
) -> dict[str, Any]:
    """One server on one fresh database, the load generator at it, then the rows counted."""
    workdir = options.workdir / f"{variant}-{round_no}"
    workdir.mkdir(parents=True, exist_ok=True)
    with fresh_database(options.db, workdir, options.postgres_url) as url:
        engine = make_engine(url)
        try:
            if variant == "product":
                upgrade(engine)
                register(engine, keys)
            else:
                baseline_metadata.create_all(engine)
        finally:
            engine.dispose()
        env = {
            "ASAP_SYNC_DATABASE_URL": url,
            "ASAP_SYNC_DATA_DIR": str(workdir),
            "ASAP_SYNC_LOG_LEVEL": options.product_log_level,
            "BENCH_DATABASE_URL": url,
            "BENCH_KEYS_FILE": str(keys_file),
        }
        log = workdir / "server.log"
        with uvicorn_server(FACTORIES[variant], env, log, workers=options.workers) as (
            port,
            process,
        ):
            cpu_before, busy_before = process_tree_cpu(process.pid), machine_busy()
            result = _load(requests_file, port, options)
            cpu_after, busy_after = process_tree_cpu(process.pid), machine_busy()
        table = transactions if variant == "product" else baseline_requests
        result["rows"] = count_rows(url, table)
    result.update(variant=variant, round=round_no)
    result["server_cpu_ms"] = (cpu_after - cpu_before) * 1000 / max(1, result["requests"])
    result["busy_pct"] = 100 * (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
    result["gen_cpu_pct"] = 100 * result["cpu_seconds"] / result["seconds"]
    return result


def _load(requests_file: Path, port: int, options: Options) -> dict[str, Any]:
    command = [
        sys.executable,
        str(LOADGEN),
        str(requests_file),
        "--port",
        str(port),
        "--concurrency",
        str(options.concurrency),
        "--warmup",
        str(options.warmup),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        check=True,
        env={"PYTHONPATH": PYTHONPATH, "PATH": "/usr/bin:/bin"},
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _row(r: dict[str, Any]) -> str:
    return (
        f"  {r['variant']:<8} #{r['round']}  {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms"
        f"  p99 {r['p99_ms']:6.1f} ms  ok {r['ok']}/{r['requests']}  rows {r['rows']}"
        f"  server CPU {r['server_cpu_ms']:.2f} ms/req  machine busy {r['busy_pct']:.0f}%"
        f"  generator CPU {r['gen_cpu_pct']:.0f}%"
        + (f"  failures e.g. {r['samples'][0]}" if r["samples"] else "")
    )


def summary(results: list[dict[str, Any]], options: Options) -> str:
    """The median table and the product/baseline throughput ratio, as Markdown."""
    lines = [
        f"{options.db}: {options.requests} requests/run, {options.rounds} rounds, "
        f"{options.workers} workers, {options.concurrency} connections",
        "",
        "| variant | req/s (median) | req/s (runs) | p50 ms | p99 ms | server CPU ms/req "
        "| success / sent | rows |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- | --- |",
    ]
    medians = {}
    for variant in ("baseline", "product"):
        runs = [r for r in results if r["variant"] == variant]
        medians[variant] = statistics.median(r["rps"] for r in runs)
        lines.append(
            f"| {variant} | {medians[variant]:.0f} "
            f"| {', '.join(format(r['rps'], '.0f') for r in runs)} "
            f"| {statistics.median(r['p50_ms'] for r in runs):.1f} "
            f"| {statistics.median(r['p99_ms'] for r in runs):.1f} "
            f"| {statistics.median(r['server_cpu_ms'] for r in runs):.2f} "
            f"| {sum(r['ok'] for r in runs)} / {sum(r['requests'] for r in runs)} "
            f"| {', '.join(str(r['rows']) for r in runs)} |"
        )
    ratio = medians["product"] / medians["baseline"]
    lines += ["", f"product / baseline throughput (medians): **{ratio:.2f}**"]
    return "\n".join(lines)


def all_succeeded(results: list[dict[str, Any]], warmup: int) -> bool:
    """Every timed answer was SUCCESS and every request left its row."""
    return all(r["ok"] == r["requests"] and r["rows"] == r["requests"] + warmup for r in results)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
