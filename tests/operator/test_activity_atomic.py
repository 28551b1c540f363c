"""A change and its activity entry commit together: when the entry cannot be written, the
change is rolled back too (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from asap_sync.domain.model import Rule
from asap_sync.domain.settlement import PeriodStatus
from asap_sync.service import admin
from asap_sync.service.journal import Actor, Change, UnattributedChange
from asap_sync.service.operator_ports import ChangeFilter, Role
from asap_sync.service.operators import add_operator, list_changes
from asap_sync.storage import unit_of_work
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.operators import SqlOperatorSessions
from asap_sync.storage.settlement import SqlSettlementUnitOfWork
from asap_sync.storage.tables import activity_log, clients, contracts, operators
from tests.operator.conftest import NOW
from tests.settlement.kit import T0, Ledger, register

ACTOR = Actor(name="alice", source="console", at=NOW)
PASSWORD = "correct horse battery staple"


def _failing_entry(conn: Connection, change: Change) -> None:
    """The entry's INSERT refused by the database itself (its actor is NOT NULL)."""
    conn.execute(insert(activity_log).values(at=change.at, actor=None, action=change.action))


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _add_client(engine: Engine) -> None:
    admin.add_client(SqlAdminSessions(engine, actor=ACTOR), "isv-1", now=NOW)


def _add_contract(engine: Engine) -> None:
    new = admin.NewContract(
        contract_id="C-1",
        merchant_id="M-1",
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
        rules={"RENEWAL": Rule(kind="rate", value=150)},
    )
    admin.add_contract(SqlAdminSessions(engine, actor=ACTOR), new, now=NOW)


def _add_operator(engine: Engine) -> None:
    add_operator(
        SqlOperatorSessions(engine),
        "bob",
        role=Role.FINANCE,
        password=PASSWORD,
        salt=b"s" * 16,
        actor=ACTOR,
    )


CHANGES: dict[str, tuple[Callable[[Engine], None], Any]] = {
    "client.add": (_add_client, clients),
    "contract.add": (_add_contract, contracts),
    "operator.add": (_add_operator, operators),
}


@pytest.mark.parametrize("action", sorted(CHANGES))
def test_a_change_whose_entry_fails_leaves_nothing_behind(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    change, table = CHANGES[action]
    monkeypatch.setattr(unit_of_work, "append_change", _failing_entry)
    with pytest.raises(IntegrityError):
        change(engine)
    assert _count(engine, table) == 0
    assert _count(engine, activity_log) == 0
    monkeypatch.undo()
    change(engine)  # the same change, with its entry, goes through
    assert _count(engine, table) == 1
    [logged] = list_changes(SqlOperatorSessions(engine), ChangeFilter())
    assert (logged.change.action, logged.change.actor, logged.change.source) == (
        action,
        "alice",
        "console",
    )


def test_a_close_whose_entry_fails_is_not_closed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(engine, ["M1"])
    ledger = Ledger(engine)
    ledger.pay("M1", "P1", 10_000)
    ledger.now = T0 + timedelta(days=30)
    monkeypatch.setattr(unit_of_work, "append_change", _failing_entry)
    with pytest.raises(IntegrityError):
        ledger.close("2026-01")
    assert _count(engine, activity_log) == 0
    with SqlSettlementUnitOfWork(engine, read_only=True) as uow:
        assert uow.settlement.period_status("2026-01") is PeriodStatus.CLOSING
    monkeypatch.undo()
    report = ledger.close("2026-01")  # the close resumes and ends with its entry
    assert report.status is PeriodStatus.CLOSED
    [logged] = list_changes(SqlOperatorSessions(engine), ChangeFilter())
    assert logged.change.action == "period.close"
    assert logged.change.after == {"status": "CLOSED", "statements": 1, "transactions": 1}


def test_a_change_without_an_actor_is_refused_and_rolled_back(engine: Engine) -> None:
    with pytest.raises(UnattributedChange):
        admin.add_client(SqlAdminSessions(engine), "isv-1", now=NOW)
    assert _count(engine, clients) == 0
