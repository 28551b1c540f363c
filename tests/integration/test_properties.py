"""Property tests: random sequences of syncs keep idempotency and refund invariants."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from asap_sync.storage.tables import commission_lines, request_bindings, transactions
from tests.integration.conftest import Platform
from tests.kit import register, sync_body


@pytest.fixture(scope="module")
def template_db() -> Iterator[Path]:
    """A migrated SQLite file copied for each example (migrating each time is slow)."""
    folder = Path(tempfile.mkdtemp())
    path = folder / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield path
    shutil.rmtree(folder)


def pay(n: int, request: int, amount: int) -> dict[str, Any]:
    return sync_body(
        requestId=f"q{request}",
        outTransId=f"T{n}",
        tradeAmt={"currency": "HKD", "value": str(amount)},
        extendInfo={
            "goodsInfoList": [
                {"goodsCode": "RENEWAL", "goodsPrice": {"currency": "HKD", "value": str(amount)}}
            ]
        },
    )


def refund(n: int, origin: int, request: int, amount: int | None) -> dict[str, Any]:
    return sync_body(
        requestId=f"q{request}",
        outTransId=f"R{n}",
        transDirection="refund",
        originTransId=f"T{origin}",
        extendInfo=None,
        tradeAmt=None if amount is None else {"currency": "HKD", "value": str(amount)},
    )


operation = st.one_of(
    st.builds(pay, st.integers(0, 3), st.integers(0, 6), st.integers(0, 50_000)),
    st.builds(
        refund,
        st.integers(0, 4),
        st.integers(0, 3),
        st.integers(0, 6),
        st.one_of(st.none(), st.integers(1, 30_000)),
    ),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(operation, min_size=1, max_size=12))
def test_random_syncs_keep_idempotency_and_refund_invariants(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory, ops: list[dict[str, Any]]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "db.sqlite3"
    shutil.copy(template_db, path)
    engine = make_engine(f"sqlite:///{path}")
    register(engine)
    platform = Platform(engine)
    succeeded: list[dict[str, Any]] = []
    for body in ops:
        if platform.send(body).success:
            succeeded.append(body)
        check_invariants(platform)
    before = snapshot(platform)
    for body in succeeded:  # every success replays as a success and changes nothing
        assert platform.send(body).success
    assert snapshot(platform) == before
    engine.dispose()


def snapshot(platform: Platform) -> tuple[int, int, int]:
    with platform.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (transactions, commission_lines, request_bindings)
        )


def check_invariants(platform: Platform) -> None:
    with platform.engine.connect() as conn:
        pays = conn.execute(select(transactions).where(transactions.c.direction == "pay")).all()
        for origin in pays:
            refunded = conn.execute(
                select(func.coalesce(func.sum(transactions.c.amount_minor), 0)).where(
                    transactions.c.origin_id == origin.transaction_id
                )
            ).scalar_one()
            assert refunded <= origin.amount_minor
            for line in conn.execute(
                select(commission_lines).where(
                    commission_lines.c.transaction_id == origin.transaction_id,
                    commission_lines.c.superseded_at.is_(None),
                )
            ):
                reversed_e4 = conn.execute(
                    select(func.coalesce(func.sum(commission_lines.c.commission_e4), 0)).where(
                        commission_lines.c.reverses_line_id == line.line_id,
                        commission_lines.c.superseded_at.is_(None),
                    )
                ).scalar_one()
                assert 0 <= -reversed_e4 <= line.commission_e4
                if refunded == origin.amount_minor:
                    assert -reversed_e4 == line.commission_e4
