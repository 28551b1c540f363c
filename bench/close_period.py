"""Benchmark: close a settlement period of N transactions on SQLite and PostgreSQL.

The period is generated directly in the database with set-based ``INSERT ... SELECT`` (one pay
in ten is refunded half by a later transaction whose reversal line references the pay's line;
one pay in three has a second goods line; one transaction in twenty has a superseded line),
then ``close_period`` runs through the real use case and is timed, with the process's peak
resident memory.

    .venv/bin/python bench/close_period.py                       # 1,000,000 on both
    .venv/bin/python bench/close_period.py -n 100000 --backends sqlite
    ASAP_SYNC_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/close_period.py --backends postgresql
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from asap_sync.service.journal import Actor
from asap_sync.service.settlement import close_period
from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from asap_sync.storage.settlement import SqlSettlementUnitOfWork

PERIOD = "2026-01"
ACCEPTED = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
CLOSE_AT = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)
BENCH = Actor(name="bench", source="cli", at=CLOSE_AT)

TRANSACTIONS = """
INSERT INTO transactions (transaction_id, merchant_id, out_trans_id, client_id, direction,
    origin_id, trans_date, amount_minor, contract_id, status, period, content, raw_request_id,
    revision, accepted_at, updated_at)
{series}
SELECT n, 'M' || (((n - 1) / 10) % :merchants), 'T' || n, 'bench',
    CASE WHEN n % 10 = 0 THEN 'refund' ELSE 'pay' END,
    CASE WHEN n % 10 = 0 THEN n - 1 END,
    :ts,
    CASE WHEN n % 10 = 0 THEN (1000 + ((n - 1) * 7919) % 100000) / 2
         ELSE 1000 + (n * 7919) % 100000 END,
    'C-bench', 'PENDING', :period, '{{}}', 1, 1, :ts, :ts
FROM seq
"""

FIRST_LINES = """
INSERT INTO commission_lines (line_id, transaction_id, line_no, contract_id, rule_kind,
    rule_value, base_minor, commission_e4, goods_index, goods_code, reverses_line_id, created_at)
SELECT transaction_id, transaction_id, 1, 'C-bench',
    CASE WHEN direction = 'pay' THEN 'rate' ELSE 'reversal' END, 150, amount_minor,
    CASE WHEN direction = 'pay' THEN amount_minor * 150 ELSE -(amount_minor * 150) END,
    0, 'RENEWAL', origin_id, :ts
FROM transactions
"""

SECOND_LINES = """
INSERT INTO commission_lines (line_id, transaction_id, line_no, contract_id, rule_kind,
    rule_value, base_minor, commission_e4, goods_index, goods_code, created_at)
SELECT :n + transaction_id, transaction_id, 2, 'C-bench', 'fixed', 50, 500, 500000, 1,
    'NEW_CONTRACT', :ts
FROM transactions WHERE direction = 'pay' AND transaction_id % 3 = 0
"""

SUPERSEDED_LINES = """
INSERT INTO commission_lines (line_id, transaction_id, line_no, contract_id, rule_kind,
    rule_value, base_minor, commission_e4, goods_index, goods_code, created_at, superseded_at)
SELECT 2 * :n + transaction_id, transaction_id, 1, 'C-bench', 'rate', 100, amount_minor,
    amount_minor * 100, 0, 'RENEWAL', :ts, :ts
FROM transactions WHERE transaction_id % 20 = 1
"""

RAW = """
INSERT INTO raw_requests (raw_request_id, client_id, key_version, method, path, request_time,
    signature, headers, body, received_at)
VALUES (1, 'bench', 1, 'POST', '/amsin/commercial/certificate/accept', 'x', 'x', '{}', :body, :ts)
"""


def _series(dialect: str) -> str:
    if dialect == "sqlite":
        return "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :n)"
    return "WITH seq(n) AS (SELECT generate_series(1::bigint, :n))"


def _ts(dialect: str) -> str:
    if dialect == "sqlite":  # how SQLAlchemy stores a UTC datetime in SQLite
        return ACCEPTED.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return ACCEPTED.isoformat()


def generate(engine: Engine, n: int, merchants: int) -> float:
    """Fill the period; returns the seconds it took."""
    started = time.perf_counter()
    dialect = engine.dialect.name
    params = {"n": n, "merchants": merchants, "ts": _ts(dialect), "period": PERIOD}
    with engine.begin() as conn:
        conn.execute(text(RAW), {"body": b"{}", "ts": params["ts"]})
        conn.execute(text(TRANSACTIONS.format(series=_series(dialect))), params)
        for sql in (FIRST_LINES, SECOND_LINES, SUPERSEDED_LINES):
            conn.execute(text(sql), params)
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(engine: Engine, label: str, n: int, merchants: int) -> None:
    upgrade(engine)
    generated = generate(engine, n, merchants)
    before = peak_rss_mib()
    started = time.perf_counter()
    report = close_period(
        lambda: SqlSettlementUnitOfWork(engine, actor=BENCH),
        period=PERIOD,
        now=CLOSE_AT,
        zone=ZoneInfo("Asia/Hong_Kong"),
    )
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        lines = conn.execute(text("SELECT count(*) FROM statement_lines")).scalar_one()
    print(
        f"{label}: {n:,} transactions, {merchants} merchants generated in {generated:.1f} s; "
        f"close {elapsed:.1f} s -> {report.statement_count} statements, "
        f"{report.transaction_count:,} transactions, {lines:,} statement lines; "
        f"peak RSS {before:.0f} MiB before the close, {peak_rss_mib():.0f} MiB after",
        flush=True,
    )


def bench_sqlite(n: int, merchants: int) -> None:
    with tempfile.TemporaryDirectory(prefix="asap-bench-") as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.sqlite3")
        try:
            run(engine, "SQLite", n, merchants)
        finally:
            engine.dispose()


def bench_postgres(server: str, n: int, merchants: int) -> None:
    name = f"asap_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(f"{server.rpartition('/')[0]}/{name}")
    try:
        run(engine, "PostgreSQL", n, merchants)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="transactions in the period")
    parser.add_argument("--merchants", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ASAP_SYNC_BENCH_POSTGRES_URL")
        or os.environ.get("ASAP_SYNC_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
        help="a server URL; a fresh database is created on it and dropped afterwards",
    )
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        bench_sqlite(args.n, args.merchants)
    if "postgresql" in backends:
        bench_postgres(args.postgres_url, args.n, args.merchants)


if __name__ == "__main__":
    main()
