"""kill -9 in the middle of a flow of syncs, again and again: every sync answered SUCCESS was
durable before its answer left, and resending everything under the same requestIds afterwards
ends with each transaction exactly once and an audit without findings."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from asap_sync.service.audit import audit
from asap_sync.storage.audit_queries import audit_queries
from asap_sync.storage.engine import make_engine
from asap_sync.storage.tables import request_bindings, transactions
from asap_sync.wire import ENDPOINT_PATH, format_response_time
from tests.e2e.conftest import start_server
from tests.kit import encode, register, signed_headers, sync_body
from tests.settlement.kit import parse_body

SYNCS = 240
KILLS = 3
SENDERS = 8


# One transaction date for every send: a resend must be the same sync, not a conflicting one.
WHEN = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")


def _body(n: int) -> bytes:
    return encode(sync_body(requestId=f"crash-{n}", outTransId=f"CT-{n}", transDate=WHEN))


def _send(port: int, n: int) -> str:
    """The answer's result code, or what kept it from arriving."""
    raw = _body(n)
    headers = signed_headers(raw, request_time=format_response_time(datetime.now(UTC)))
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}{ENDPOINT_PATH}", content=raw, headers=headers, timeout=10
        )
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    return str(answer.json().get("errorCode") or answer.json()["invokeResult"])


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the server's supervisor and its workers at once."""
    os.killpg(os.getpgid(process.pid), signal.SIGKILL)
    process.wait()


def test_what_was_answered_survives_kill_9_and_a_full_resend_lands_each_sync_once(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    register(engine)
    answered: set[int] = set()
    lock = threading.Lock()
    rng = random.Random(9)
    try:
        for _ in range(KILLS):
            process, port = start_server(database_url, tmp_path, new_session=True)
            sending = list(range(SYNCS))
            rng.shuffle(sending)

            def one(n: int, port: int = port) -> None:
                if _send(port, n) == "SUCCESS":
                    with lock:
                        answered.add(n)

            with ThreadPoolExecutor(SENDERS) as pool:
                futures = [pool.submit(one, n) for n in sending]
                time.sleep(rng.uniform(0.3, 1.2))  # the kill lands in the middle of the flow
                _kill(process)
                for future in futures:
                    future.result()
            with engine.connect() as conn:
                stored = set(conn.execute(select(request_bindings.c.request_id)).scalars())
            lost = {n for n in answered if f"crash-{n}" not in stored}
            assert not lost, f"answered SUCCESS but not durable: {sorted(lost)[:10]}"
        assert answered, "no sync was answered before the kills: the test proved nothing"
        process, port = start_server(database_url, tmp_path, new_session=True)
        try:
            with ThreadPoolExecutor(SENDERS) as pool:
                results = list(pool.map(lambda n: _send(port, n), range(SYNCS)))
        finally:
            _kill(process)
        assert set(results) == {"SUCCESS"}, "a resend under its requestId was not answered SUCCESS"
        with engine.connect() as conn:
            ids = list(conn.execute(select(transactions.c.out_trans_id)).scalars())
        assert sorted(ids) == sorted(f"CT-{n}" for n in range(SYNCS))  # each exactly once
        with audit_queries(engine) as queries:
            report = audit(queries, parse_body=parse_body)
        assert report.ok, report.violations[:5]
    finally:
        engine.dispose()
