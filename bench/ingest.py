"""Ingestion throughput: the product against a bare baseline handler, same server, same run.

    .venv/bin/python bench/ingest.py --db sqlite --requests 20000 --rounds 3
    .venv/bin/python bench/ingest.py --db postgres --requests 20000 --rounds 3

Each round signs ``--requests`` unique requests (plus a warm-up) before any timing, then runs
the baseline and the product (alternating which goes first) under uvicorn with the same worker
count, each on a fresh database, with a separate load generator process that only replays the
pre-signed bytes. Prints every run, then a Markdown table of medians and the throughput ratio.
Exits 1 if any answer was not SUCCESS or a row is missing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=20_000, help="timed requests per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--warmup", type=int, default=500, help="untimed requests per run")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--postgres-url", default=POSTGRES_URL, help="server on which to create fresh databases"
    )
    parser.add_argument(
        "--product-log-level", default="info", help="ASAP_SYNC_LOG_LEVEL of the product"
    )
    args = parser.parse_args(argv)
    # Runs from a checkout without installing: the package and bench/ from this tree.
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    from bench.compare import Options, all_succeeded, run_all, summary

    with tempfile.TemporaryDirectory(prefix="asap-bench-") as tmp:
        options = Options(
            db=args.db,
            requests=args.requests,
            rounds=args.rounds,
            concurrency=args.concurrency,
            warmup=args.warmup,
            workers=args.workers,
            postgres_url=args.postgres_url,
            product_log_level=args.product_log_level,
            workdir=Path(tmp),
        )
        results = run_all(options)
    print(summary(results, options))
    return 0 if all_succeeded(results, args.warmup) else 1


if __name__ == "__main__":
    raise SystemExit(main())
