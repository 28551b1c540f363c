"""Ingestion throughput: the product against a lean baseline endpoint, same server, same run.

    .venv/bin/pip install -e '.[bench]'      # orjson, asyncpg, granian, py-spy
    .venv/bin/python bench/ingest.py --db sqlite
    .venv/bin/python bench/ingest.py --db postgres

Each round signs its requests (plus a warm-up) before any timing, then runs every variant
(rotating which goes first) under the same ASGI server and worker count, each on a fresh
database, with a separate load generator process that only replays the pre-signed bytes:
first closed-loop (``--concurrency`` connections), then open-loop at a constant rate (half the
product's closed-loop capacity unless ``--open-rate`` is given; ``--open-seconds 0`` skips it).
Prints every run, then Markdown tables of medians and the throughput ratio. Exits 1 if any
answer was not SUCCESS or a row is missing.

Variants: ``product``, ``baseline`` (asyncpg / sqlite3 under uvicorn), ``baseline-psycopg``
(psycopg's async API instead of asyncpg) and ``baseline-granian`` (granian instead of uvicorn).
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
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--variants", default="baseline,product", help="comma-separated")
    parser.add_argument("--open-seconds", type=float, default=10.0, help="open-loop run length")
    parser.add_argument("--open-rate", type=float, default=None, help="open-loop requests/s")
    parser.add_argument(
        "--open-fraction", type=float, default=0.5, help="open-loop rate / product capacity"
    )
    parser.add_argument(
        "--postgres-url", default=POSTGRES_URL, help="server on which to create fresh databases"
    )
    parser.add_argument(
        "--product-log-level", default="info", help="ASAP_SYNC_LOG_LEVEL of the product"
    )
    args = parser.parse_args(argv)
    # Runs from a checkout without installing: the package and bench/ from this tree.
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    from bench.compare import VARIANTS, Options, all_succeeded, run_all, summary

    variants = tuple(args.variants.split(","))
    if unknown := [v for v in variants if v not in VARIANTS]:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
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
            variants=variants,
            open_seconds=args.open_seconds,
            open_rate=args.open_rate,
            open_fraction=args.open_fraction,
        )
        results = run_all(options)
    print(summary(results, options))
    return 0 if all_succeeded(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
