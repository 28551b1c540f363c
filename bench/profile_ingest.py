"""Where a sync's time goes: the product under closed-loop load, sampled by py-spy.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/profile_ingest.py --db postgres --requests 8000

Starts the product (fresh database, same server and workers as the ingestion benchmark), warms
it up, then replays pre-signed unique pays while ``py-spy record --subprocesses --gil`` samples
the thread holding the GIL in every worker: where the Python time goes. Work done without the
GIL (most of RSA in OpenSSL, waiting for the database) is not in it. ``--all-threads`` samples
every thread instead; on this machine py-spy did not tell waiting threads from running ones
(threads blocked on a queue, a lock or a socket showed as busy), so that view is wall time.
Prints the share of samples by area (the package of the innermost Python frame), per function
inclusive (the function and what it calls) and self (its own lines), and keeps the collapsed
stacks (``--keep`` to a file) for a flame graph.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8, help="how long py-spy samples")
    parser.add_argument("--all-threads", action="store_true", help="every thread, waits too")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="write the collapsed stacks there")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args(argv)
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    from asap_sync.wire import generate_private_key
    from bench.compare import Options, _load, _prepare, _signed_file
    from bench.harness import asgi_server, fresh_database
    from bench.workload import Keys

    with tempfile.TemporaryDirectory(prefix="asap-profile-") as tmp:
        workdir = Path(tmp)
        options = Options(
            db=args.db,
            requests=args.requests,
            rounds=1,
            concurrency=args.concurrency,
            warmup=args.warmup,
            workers=args.workers,
            postgres_url=args.postgres_url,
            product_log_level="info",
            workdir=workdir,
        )
        keys = Keys.load(generate_private_key())
        requests_file = _signed_file(options, keys, 1, "closed", args.requests)
        raw = workdir / "stacks.txt"
        with fresh_database(args.db, workdir, args.postgres_url) as url:
            from bench.compare import VARIANTS

            _prepare(url, VARIANTS["product"], keys)
            env = {"ASAP_SYNC_DATABASE_URL": url, "ASAP_SYNC_DATA_DIR": str(workdir)}
            with asgi_server(
                VARIANTS["product"].factory, env, workdir / "server.log", workers=args.workers
            ) as (port, process):
                _load(requests_file, port, options, first=0, count=args.warmup, rate=None)
                spy = _py_spy(process.pid, raw, args.seconds, gil=not args.all_threads)
                result: dict[str, object] = {}
                load = threading.Thread(
                    target=lambda: result.update(
                        _load(requests_file, port, options, first=args.warmup, rate=None)
                    )
                )
                load.start()
                spy.wait()
                load.join()
        print(f"load: {result.get('rps', 0):.0f} req/s while sampled", file=sys.stderr)
        text = raw.read_text()
        if args.keep:
            args.keep.write_text(text)
    print(report(text, args.top))
    return 0


def _py_spy(pid: int, out: Path, seconds: int, *, gil: bool) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).with_name("py-spy")),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--format",
        "raw",
        "--duration",
        str(seconds),
        "--rate",
        "200",
        "--nonblocking",
        "--output",
        str(out),
    ]
    if gil:
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def report(collapsed: str, top: int) -> str:
    """Shares by area, and inclusive and self shares per function, from collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = [_function(f) for f in stack.split(";") if " (" in f and "spawn_main" not in f]
        if not frames or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        own[frames[-1]] += count
        areas[_area(frames[-1])] += count
        for name in set(frames):
            inclusive[name] += count
    lines = [f"{total} samples", "", "| area (innermost frame) | % |", "| --- | ---: |"]
    lines += [f"| {name} | {100 * n / total:.1f} |" for name, n in areas.most_common()]
    lines += ["", "| inclusive % | self % | function |", "| ---: | ---: | --- |"]
    for name, count in inclusive.most_common(top):
        lines.append(f"| {100 * count / total:.1f} | {100 * own[name] / total:.1f} | `{name}` |")
    lines += ["", "| self % | function |", "| ---: | --- |"]
    lines += [f"| {100 * n / total:.1f} | `{name}` |" for name, n in own.most_common(top)]
    return "\n".join(lines)


def _function(frame: str) -> str:
    """``name (path/file.py:123)`` → ``name (path/file.py)``: lines of a function add up."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rpartition(':')[0]})"


def _area(function: str) -> str:
    """``asap_sync/http``, ``psycopg``, ``logging`` …: the package of a function's file."""
    path = function.rpartition(" (")[2].rstrip(")")
    parts = path.split("/")
    if parts[0] == "asap_sync" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0].removesuffix(".py") if len(parts) > 1 else path.removesuffix(".py")


if __name__ == "__main__":
    raise SystemExit(main())
