"""Planned writes on PostgreSQL: a new pay in one statement, committed with its batch in one
round trip, and the ordinary way whenever a precondition does not hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, text

from asap_sync.service.accept_sync import AcceptPolicy, accept_sync
from asap_sync.service.ports import SignedRequest
from asap_sync.service.sync_command import to_command
from asap_sync.storage import batch, planned
from asap_sync.storage.batch import BatchWriter
from asap_sync.storage.engine import make_engine
from asap_sync.storage.tables import (
    clients,
    commission_lines,
    raw_requests,
    request_bindings,
    transactions,
)
from asap_sync.storage.unit_of_work import SqlUnitOfWork
from asap_sync.wire.messages import parse_sync_body
from tests.integration.conftest import NOW, Platform, in_one_batch
from tests.kit import CLIENT_ID, T0, encode, register, sync_body

# A PostgreSQL path: the tests run on PostgreSQL only (and skip without it, like the others).
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def pg(engine: Engine) -> Platform:
    register(engine)
    platform = Platform(engine)
    assert platform.send(sync_body(requestId="warm", outTransId="WARM")).success  # caches
    return platform


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """What each planned commit returned (a list of booleans) or raised."""
    seen: list[Any] = []
    real = planned.commit_planned

    def spy(conn: Any, plans: Any) -> list[bool]:
        try:
            written = real(conn, plans)
        except Exception as exc:
            seen.append(exc)
            raise
        seen.append(written)
        return written

    monkeypatch.setattr(batch, "commit_planned", spy)
    yield seen


def rows(engine: Engine, request_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row a sync wrote, without its surrogate keys."""
    with engine.connect() as conn:
        binding = conn.execute(
            select(request_bindings).where(request_bindings.c.request_id == request_id)
        ).one()
        raw = conn.execute(
            select(raw_requests).where(raw_requests.c.raw_request_id == binding.raw_request_id)
        ).one()
        txn = conn.execute(
            select(transactions).where(transactions.c.raw_request_id == raw.raw_request_id)
        ).one()
        lines = conn.execute(
            select(commission_lines)
            .where(commission_lines.c.transaction_id == txn.transaction_id)
            .order_by(commission_lines.c.line_no)
        ).all()
    surrogate = {"raw_request_id", "transaction_id", "line_id"}

    def plain(row: Any) -> dict[str, Any]:
        return {k: v for k, v in row._asdict().items() if k not in surrogate}

    return {
        "raw": [plain(raw)],
        "binding": [plain(binding)],
        "transaction": [plain(txn)],
        "lines": [plain(line) for line in lines],
    }


def forget(engine: Engine, request_id: str) -> None:
    with engine.begin() as conn:
        raw_id = conn.execute(
            select(request_bindings.c.raw_request_id).where(
                request_bindings.c.request_id == request_id
            )
        ).scalar_one()
        txn_id = conn.execute(
            select(transactions.c.transaction_id).where(transactions.c.raw_request_id == raw_id)
        ).scalar_one()
        conn.execute(delete(commission_lines).where(commission_lines.c.transaction_id == txn_id))
        conn.execute(delete(transactions).where(transactions.c.transaction_id == txn_id))
        conn.execute(delete(request_bindings).where(request_bindings.c.request_id == request_id))
        conn.execute(delete(raw_requests).where(raw_requests.c.raw_request_id == raw_id))


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(table)).all())


TWO_GOODS = {
    "goodsInfoList": [
        {
            "goodsCode": "RENEWAL",
            "goodsName": "contract renewal",
            "goodsPrice": {"currency": "HKD", "value": "14800"},
        },
        {
            "goodsCode": "NEW_CONTRACT",
            "goodsName": "new contract",
            "goodsPrice": {"currency": "HKD", "value": "10000"},
        },
    ]
}


def test_a_planned_pay_writes_exactly_the_rows_of_the_ordinary_way(
    pg: Platform, calls: list[Any]
) -> None:
    body = sync_body(requestId="req-p", outTransId="T-P", extendInfo=TWO_GOODS, storeId="S1")
    assert pg.send(body).success
    assert calls == [[True]]
    by_plan = rows(pg.engine, "req-p")
    assert len(by_plan["lines"]) == 2

    forget(pg.engine, "req-p")
    pg.endpoint.writer = BatchWriter(pg.engine, planned=False)
    assert pg.send(body).success
    assert calls == [[True]]  # the second time, no plan
    assert rows(pg.engine, "req-p") == by_plan


def test_a_replay_and_a_resent_transaction_take_the_ordinary_way(
    pg: Platform, calls: list[Any]
) -> None:
    assert pg.send(sync_body()).success
    assert pg.send(sync_body()).success  # the same requestId: a replay
    assert pg.send(sync_body(requestId="req-2")).success  # the same transaction again
    assert calls == [[True], [False], [False]]
    assert count(pg.engine, transactions) == 2  # the warm-up and T-1
    assert count(pg.engine, request_bindings) == 3
    different = pg.send(sync_body(tradeAmt={"currency": "HKD", "value": "1"}))
    assert different.error_code == "IDEMPOTENCY_EXCEPTION"


def test_a_pay_planned_before_the_directory_moved_is_decided_again(
    pg: Platform, calls: list[Any]
) -> None:
    with pg.engine.begin() as conn:  # any change of clients, keys, links or contracts
        conn.execute(insert(clients), {"client_id": "other", "name": "", "created_at": T0})
    assert pg.send(sync_body()).success
    # The plan (on the version the gateway had cached) wrote nothing; the ordinary way saw
    # the new version, and the request was decided again on fresh data.
    assert calls[0] == [False]
    assert count(pg.engine, transactions) == 2


def test_a_failing_planned_statement_commits_nothing_and_the_batch_runs_the_ordinary_way(
    pg: Platform, calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = planned.planned_row

    def too_long(plan: Any, version: int) -> planned.PlannedRow:
        row = real(plan, version)
        if plan.binding.request_id == "req-bad":  # longer than the column: the insert fails
            return replace(row, json=row.json.replace('"T-req-bad"', '"' + "x" * 65 + '"'))
        return row

    monkeypatch.setattr(batch, "planned_row", too_long)
    results = send_in_one_batch(pg, ["req-good", "req-bad"])
    assert all(r.success for r in results)
    assert len(calls) == 1 and isinstance(calls[0], Exception)
    with pg.engine.connect() as conn:
        stored = sorted(conn.execute(select(transactions.c.out_trans_id)).scalars())
    assert stored == ["T-req-bad", "T-req-good", "WARM", "WARM-2"]


def test_twins_in_one_batch_are_planned_once_and_the_second_replays(
    pg: Platform, calls: list[Any]
) -> None:
    results = send_in_one_batch(pg, ["req-same", "req-same"])
    assert all(r.success for r in results)
    assert calls == [[True]]  # the second waited for the ordinary way, and replayed
    assert count(pg.engine, transactions) == 3  # WARM, WARM-2 and T-req-same
    assert count(pg.engine, request_bindings) == 3


def send_in_one_batch(pg: Platform, request_ids: list[str]) -> list[Any]:
    writer = pg.endpoint.writer = BatchWriter(pg.engine)
    assert pg.send(sync_body(requestId="warm-2", outTransId="WARM-2")).success  # its cache
    return in_one_batch(
        writer,
        [
            partial(pg.send, sync_body(requestId=request_id, outTransId=f"T-{request_id}"))
            for request_id in request_ids
        ],
    )


class HeldUnit(SqlUnitOfWork):
    """Commits only once ``release`` is set."""

    release = threading.Event()

    def commit(self) -> None:
        assert self.release.wait(timeout=30)
        super().commit()


def test_a_twin_that_binds_first_wins_and_the_planned_sync_replays(
    pg: Platform, calls: list[Any]
) -> None:
    raw = encode(sync_body())
    command = to_command(parse_sync_body(raw), CLIENT_ID)
    request = SignedRequest(
        client_id=CLIENT_ID,
        key_version=1,
        method="POST",
        path="/amsin/commercial/certificate/accept",
        request_time="2025-04-20T10:00:00+08:00",
        signature="twin",
        headers={},
        body=raw,
        received_at=NOW,
    )
    HeldUnit.release.clear()
    twin = threading.Thread(
        target=accept_sync,
        args=(lambda: HeldUnit(pg.engine), command, request),
        kwargs={"now": NOW, "policy": AcceptPolicy()},
    )
    twin.start()  # writes everything, then waits before its commit
    wait_for(lambda: count_uncommitted_bindings(pg.engine) == 1)
    answer: list[Any] = []
    sender = threading.Thread(target=lambda: answer.append(pg.send(sync_body())))
    sender.start()
    wait_for(lambda: waiting_on_locks(pg.engine) == 1)  # the planned insert waits for the twin
    HeldUnit.release.set()
    twin.join(timeout=30)
    sender.join(timeout=30)
    assert answer[0].success  # a replay of the twin's success
    assert len(calls) == 1 and isinstance(calls[0], Exception)  # unique violation: rolled back
    assert count(pg.engine, transactions) == 2
    with pg.engine.connect() as conn:
        signatures = conn.execute(select(raw_requests.c.signature)).scalars().all()
    assert "twin" in signatures and len(signatures) == 2  # nothing of the planned sync is left


def count_uncommitted_bindings(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'request_bindings' AND l.mode = 'RowExclusiveLock' "
                    "AND l.database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                )
            ).scalar_one()
        )


def waiting_on_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_planned_writes_are_the_default_on_postgresql_and_refused_on_sqlite(
    engine: Engine, tmp_path: Path
) -> None:
    assert BatchWriter(engine)._planned
    sqlite = make_engine(f"sqlite:///{tmp_path / 'planned.sqlite3'}")
    try:
        assert not BatchWriter(sqlite)._planned
        with pytest.raises(ValueError, match="PostgreSQL"):
            BatchWriter(sqlite, planned=True)
    finally:
        sqlite.dispose()
