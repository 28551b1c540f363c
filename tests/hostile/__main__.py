"""The full hostile run: ``python -m tests.hostile --cases 10000 [--database-url URL]``.

Starts ``asap-sync serve`` on a fresh SQLite data directory (or on the PostgreSQL database
given, which it empties first), sends the cases, and exits non-zero if any answer breaks a
promise of docs/security.md, the log holds a traceback or the worker's memory kept growing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.hostile.conftest import NO_BUDGETS, prepared
from tests.hostile.framing_cases import all_kinds
from tests.hostile.harness import start_hostile_server
from tests.hostile.run import cases, run_cases
from tests.hostile.test_hostile_inputs import MEMORY_GROWTH_LIMIT_KIB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default="", help="PostgreSQL (emptied first)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir(mode=0o700)
        prepared(args.database_url or f"sqlite:///{data_dir / 'asap-sync.sqlite3'}")
        server = start_hostile_server(
            data_dir, database_url=args.database_url, extra_env=NO_BUDGETS
        )
        try:
            run_cases(server, cases(50), threads=args.threads)
            before, started = server.rss_kib(), time.monotonic()
            failures = run_cases(server, cases(args.cases, args.seed), threads=args.threads)
            grown, elapsed = server.rss_kib() - before, time.monotonic() - started
            log = server.log_text()
        finally:
            server.stop()
    print(f"{args.cases} cases of {len(all_kinds())} kinds in {elapsed:.0f} s")
    print(f"worker memory grew by {grown} KiB (limit {MEMORY_GROWTH_LIMIT_KIB})")
    for kind, n in Counter(f.kind for f in failures).most_common(40):
        example = next(f.problem for f in failures if f.kind == kind)
        print(f"FAILED {n}x {kind}: {example}")
    broken = bool(failures) or "Traceback" in log or grown >= MEMORY_GROWTH_LIMIT_KIB
    print("tracebacks in the server log:", log.count("Traceback"))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
