"""Benchmark: console page response times with a million transactions in the database.

The ledger is generated set-based (as in ``bench/close_period.py``: 1,000,000 transactions of
200 merchants, one in ten a refund, about 1.4 lines each), then spread over 28 days of
acceptance with one request binding per transaction and 200,000 rejections. Each page is
fetched in-process through the real admin app (session cookie, SQL, templates) after one
warm-up, ``--repeat`` times; the median and the worst are printed, in milliseconds.

    .venv/bin/python bench/console_pages.py                          # SQLite, 1,000,000
    .venv/bin/python bench/console_pages.py -n 100000 --backends sqlite,postgresql
    .venv/bin/python bench/console_pages.py --database /tmp/console.sqlite3   # seeded once, kept

The first fetch of each page is printed apart ("cold"): it is the one that fills the console's
day summaries, which every run empties first.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.testclient import TestClient

from asap_sync.bootstrap import build_admin_app
from asap_sync.config import Settings
from asap_sync.service.operator_ports import Actor, Role
from asap_sync.service.operators import add_operator
from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from asap_sync.storage.operators import SqlOperatorSessions
from bench.close_period import generate

NOW = datetime(2026, 1, 29, 4, 0, tzinfo=UTC)  # the console's clock: day 28 of the period
PASSWORD = "benchmark passphrase"
TARGET_MS = 300
SUMMARIES = ("console_day_counts", "console_days")

SPREAD = {
    "sqlite": "UPDATE transactions SET accepted_at = strftime('%Y-%m-%d %H:%M:%S', "
    "'2026-01-01 00:00:00', '+' || (transaction_id * 2419200 / :n) || ' seconds') || '.000000'",
    "postgresql": "UPDATE transactions SET accepted_at = TIMESTAMPTZ '2026-01-01 00:00:00+00' "
    "+ make_interval(secs => transaction_id * 2419200 / :n)",
}
BINDINGS = """
INSERT INTO request_bindings (client_id, request_id, merchant_id, out_trans_id, content,
    raw_request_id, created_at)
SELECT 'bench', 'R' || transaction_id, merchant_id, out_trans_id, '{}', 1, accepted_at
FROM transactions
"""
REJECTIONS = {
    "sqlite": "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :r) "
    "INSERT INTO rejections (received_at, client_id, merchant_id, code, context) "
    "SELECT strftime('%Y-%m-%d %H:%M:%S', '2026-01-01 00:00:00', '+' || (n * 2419200 / :r) "
    "|| ' seconds') || '.000000', 'bench-' || (n % 7), 'M' || (n % 200), "
    "CASE n % 4 WHEN 0 THEN 'INVALID_SIGNATURE' WHEN 1 THEN 'REQUEST_PARAM_ILLEGAL' "
    "WHEN 2 THEN 'REPEAT_REQ_INCONSISTENT' ELSE 'REQUEST_TRAFFIC_EXCEED_LIMIT' END, '{}' FROM seq",
    "postgresql": "INSERT INTO rejections (received_at, client_id, merchant_id, code, context) "
    "SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' "
    "+ make_interval(secs => n::bigint * 2419200 / :r), "
    "'bench-' || (n % 7), 'M' || (n % 200), "
    "CASE n % 4 WHEN 0 THEN 'INVALID_SIGNATURE' WHEN 1 THEN 'REQUEST_PARAM_ILLEGAL' "
    "WHEN 2 THEN 'REPEAT_REQ_INCONSISTENT' ELSE 'REQUEST_TRAFFIC_EXCEED_LIMIT' END, '{}' "
    "FROM generate_series(1, :r) AS n",
}


def pages(n: int) -> list[tuple[str, str]]:
    """The pages timed, with the query an operator would run."""
    middle = n // 2
    return [
        ("overview", "/console/"),
        ("ingestion rate (htmx)", "/console/rate"),
        ("transactions, newest", "/console/transactions"),
        ("transactions, 2nd page", f"/console/transactions?before={n - 49}"),
        ("transactions by merchant", "/console/transactions?merchant_id=M7"),
        ("transactions by merchant, status", "/console/transactions?merchant_id=M7&status=PENDING"),
        ("transactions by outTransId", f"/console/transactions?out_trans_id=T{middle}"),
        ("transactions by requestId", f"/console/transactions?request_id=R{middle}"),
        ("transactions by originTransId", f"/console/transactions?origin_trans_id=T{middle - 1}"),
        ("transactions by date range", "/console/transactions?from=2026-01-10&to=2026-01-11"),
        ("transaction detail", f"/console/transactions/{middle}"),
        ("rejections, 7 days", "/console/rejections"),
        ("clients", "/console/clients"),
        ("contracts", "/console/contracts"),
        ("periods", "/console/periods"),
        ("statements", "/console/statements"),
        ("audit history", "/console/audit"),
        ("activity log", "/console/activity"),
    ]


def seed(engine: Engine, n: int, merchants: int) -> float:
    """Generate the ledger, spread it over the month, add bindings, rejections, an operator."""
    started = time.perf_counter()
    upgrade(engine)
    generate(engine, n, merchants)
    dialect = engine.dialect.name
    with engine.begin() as conn:
        conn.execute(text(SPREAD[dialect]), {"n": n})
        conn.execute(text(BINDINGS))
        conn.execute(text(REJECTIONS[dialect]), {"r": n // 5})
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    actor = Actor(name="bench", source="cli", at=NOW)
    add_operator(
        SqlOperatorSessions(engine),
        "bench",
        role=Role.ADMIN,
        password=PASSWORD,
        salt=os.urandom(16),
        actor=actor,
    )
    return time.perf_counter() - started


def client_for(engine: Engine, folder: str) -> TestClient:
    app = build_admin_app(Settings(data_dir=Path(folder)), engine=engine, clock=lambda: NOW)
    client = TestClient(app, base_url="http://testserver", follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text)
    assert token is not None
    answer = client.post(
        "/console/login", data={"name": "bench", "password": PASSWORD, "csrf": token.group(1)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    return client


def time_pages(client: TestClient, n: int, repeat: int) -> list[tuple[str, float, float, float]]:
    """Per page: the first (cold) fetch, then the median and the worst of ``repeat`` more."""
    results = []
    for label, path in pages(n):
        samples = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            answer = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            samples.append(elapsed)
        cold, warm = samples[0], samples[1:]
        results.append((label, cold, statistics.median(warm), max(warm)))
    return results


def time_once(client: TestClient, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.text[:300])
    return (time.perf_counter() - started) * 1000


def seeded(engine: Engine) -> bool:
    """Whether the database already holds a seeded ledger (a kept ``--database``)."""
    upgrade(engine)
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM operators")).scalar_one())


def forget_summaries(engine: Engine) -> None:
    """Empty the console's day summaries, so that the first fetch of a page fills them."""
    with engine.begin() as conn:
        for table in SUMMARIES:
            conn.execute(text(f"DELETE FROM {table}"))


def run(
    engine: Engine, label: str, n: int, merchants: int, repeat: int, folder: str, preview: bool
) -> None:
    if seeded(engine):
        print(f"{label}: the kept database, {n:,} transactions of {merchants} merchants")
    else:
        took = seed(engine, n, merchants)
        print(f"{label}: {n:,} transactions of {merchants} merchants seeded in {took:.0f} s")
    forget_summaries(engine)
    client = client_for(engine, folder)
    print(f"| page ({label}, {n:,} transactions) | cold ms | median ms | worst ms |")
    print("| --- | ---: | ---: | ---: |")
    for page, cold, median, worst in time_pages(client, n, repeat):
        flag = "" if median < TARGET_MS else " (over target)"
        print(f"| {page}{flag} | {cold:.0f} | {median:.0f} | {worst:.0f} |", flush=True)
    if preview:
        started = time.perf_counter()
        first = time_once(client, "/console/periods/2026-01/preview")
        while "HX-Refresh" not in client.get("/console/periods/2026-01/preview/progress").headers:
            time.sleep(0.5)
        took = (time.perf_counter() - started) * 1000
        shown = time_once(client, "/console/periods/2026-01/preview")
        print(f"| close preview: the page that starts the job | {first:.0f} | - | - |")
        print(f"| close preview: the job (a dry-run close), until done | {took:.0f} | - | - |")
        print(f"| close preview: the kept result shown | {shown:.0f} | - | - |")


def bench_sqlite(n: int, merchants: int, repeat: int, preview: bool, kept: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="asap-bench-") as folder:
        engine = make_engine(f"sqlite:///{kept or folder + '/bench.sqlite3'}")
        try:
            run(engine, "SQLite", n, merchants, repeat, folder, preview)
        finally:
            engine.dispose()


def bench_postgres(server: str, n: int, merchants: int, repeat: int, preview: bool) -> None:
    name = f"asap_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(f"{server.rpartition('/')[0]}/{name}")
    try:
        with tempfile.TemporaryDirectory(prefix="asap-bench-") as folder:
            run(engine, "PostgreSQL", n, merchants, repeat, folder, preview)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="transactions")
    parser.add_argument("--merchants", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7, help="timed fetches per page")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument(
        "--no-preview", action="store_true", help="skip the close preview (a dry-run close)"
    )
    parser.add_argument(
        "--database", help="an SQLite file to seed once and keep (later runs reuse it)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ASAP_SYNC_BENCH_POSTGRES_URL")
        or os.environ.get("ASAP_SYNC_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        bench_sqlite(args.n, args.merchants, args.repeat, not args.no_preview, args.database)
    if "postgresql" in backends:
        bench_postgres(args.postgres_url, args.n, args.merchants, args.repeat, not args.no_preview)


if __name__ == "__main__":
    main()
