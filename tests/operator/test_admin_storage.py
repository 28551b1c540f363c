"""Operator use cases on real storage: SQLite always, PostgreSQL when configured."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from asap_sync import wire
from asap_sync.domain.model import Rule
from asap_sync.service import admin
from asap_sync.service.admin import AdminError, NewContract
from asap_sync.service.directory import ClientKeys, Directory
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.directory import SqlDirectoryReader
from tests import kit

from .conftest import NOW

Y2025 = datetime(2025, 1, 1, tzinfo=UTC)
Y2026 = datetime(2026, 1, 1, tzinfo=UTC)
Y2027 = datetime(2027, 1, 1, tzinfo=UTC)


def contract(
    contract_id: str, start: datetime, end: datetime | None, merchant: str = "M1"
) -> NewContract:
    return NewContract(
        contract_id=contract_id,
        merchant_id=merchant,
        valid_from=start,
        valid_to=end,
        rules={"RENEWAL": Rule(kind="rate", value=150)},
    )


def client_keys(engine: object, client_id: str) -> ClientKeys | None:
    """The client as the gateway reads it afresh."""
    reader = SqlDirectoryReader(engine)  # type: ignore[arg-type]
    return Directory(reader).snapshot(client_id, fresh=True).client


def test_a_client_key_given_as_pem_is_stored_as_spki_pem(sessions: SqlAdminSessions) -> None:
    admin.add_client(sessions, "acme", now=NOW)
    pem = wire.public_key_pem(kit.client_key().public_key())
    added = admin.add_client_key(sessions, "acme", pem, now=NOW)
    assert added.key_version == 1
    assert admin.list_client_keys(sessions, "acme")[0].public_key_pem == pem


def test_a_bare_base64_key_gets_the_next_version_and_the_same_pem(
    sessions: SqlAdminSessions, engine: object
) -> None:
    admin.add_client(sessions, "acme", now=NOW)
    public = kit.client_key().public_key()
    admin.add_client_key(sessions, "acme", wire.public_key_pem(public), now=NOW)
    second = admin.add_client_key(sessions, "acme", wire.public_key_base64(public), now=NOW)
    assert second.key_version == 2
    assert second.public_key_pem == wire.public_key_pem(public)
    found = client_keys(engine, "acme")
    assert found is not None and found.key(None) == (2, second.public_key_pem)


def test_a_retired_key_no_longer_verifies_at_the_gateway(
    sessions: SqlAdminSessions, engine: object
) -> None:
    admin.add_client(sessions, "acme", now=NOW)
    admin.add_client_key(
        sessions, "acme", wire.public_key_base64(kit.client_key().public_key()), now=NOW
    )
    retired = admin.retire_client_key(sessions, "acme", 1, now=NOW)
    assert retired.status == "retired" and retired.retired_at == NOW
    found = client_keys(engine, "acme")
    assert found is not None and found.key(1) is None
    with pytest.raises(AdminError, match="already retired"):
        admin.retire_client_key(sessions, "acme", 1, now=NOW)


def test_a_key_for_an_unknown_client_or_a_taken_version_is_refused(
    sessions: SqlAdminSessions,
) -> None:
    text = wire.public_key_base64(kit.client_key().public_key())
    with pytest.raises(AdminError, match="unknown client"):
        admin.add_client_key(sessions, "ghost", text, now=NOW)
    admin.add_client(sessions, "acme", now=NOW)
    admin.add_client_key(sessions, "acme", text, version=3, now=NOW)
    with pytest.raises(AdminError, match="already has a key version 3"):
        admin.add_client_key(sessions, "acme", text, version=3, now=NOW)
    assert admin.add_client_key(sessions, "acme", text, now=NOW).key_version == 4


def test_disabling_a_client_shows_at_the_gateway(
    sessions: SqlAdminSessions, engine: object
) -> None:
    admin.add_client(sessions, "acme", now=NOW)
    admin.set_client_enabled(sessions, "acme", enabled=False)
    found = client_keys(engine, "acme")
    assert found is not None and not found.active
    assert admin.set_client_enabled(sessions, "acme", enabled=True).status == "active"


def test_linking_and_unlinking_a_merchant_is_listed(sessions: SqlAdminSessions) -> None:
    admin.add_client(sessions, "acme", now=NOW)
    admin.link_merchant(sessions, "acme", "M1", now=NOW)
    with pytest.raises(AdminError, match="already linked"):
        admin.link_merchant(sessions, "acme", "M1", now=NOW)
    assert [c.merchant_ids for c in admin.list_clients(sessions)] == [("M1",)]
    admin.unlink_merchant(sessions, "acme", "M1")
    assert admin.list_links(sessions, client_id="acme") == []


def test_a_contract_is_stored_with_its_rules_and_overrides(sessions: SqlAdminSessions) -> None:
    new = NewContract(
        contract_id="C1",
        merchant_id="M1",
        valid_from=Y2025,
        valid_to=Y2026,
        rules={
            "RENEWAL": Rule(kind="rate", value=150),
            "NEW_CONTRACT": Rule(kind="fixed", value=5000),
        },
        default_rate_bp=25,
        goods_window_days=10,
        amount_threshold_minor=100,
    )
    admin.add_contract(sessions, new, now=NOW)
    [stored] = admin.list_contracts(sessions, merchant_id="M1")
    assert stored.rules == new.rules
    assert stored.valid_from == Y2025 and stored.valid_to == Y2026
    assert stored.goods_window == timedelta(days=10)
    assert (stored.default_rate_bp, stored.amount_threshold_minor) == (25, 100)


def test_an_overlapping_contract_is_refused(sessions: SqlAdminSessions) -> None:
    admin.add_contract(sessions, contract("C1", Y2025, Y2026), now=NOW)
    with pytest.raises(AdminError, match="overlaps contract C1"):
        admin.add_contract(sessions, contract("C2", Y2025 + timedelta(days=100), Y2027), now=NOW)
    admin.add_contract(sessions, contract("C2", Y2026, Y2027), now=NOW)  # touching is fine
    admin.add_contract(sessions, contract("C3", Y2025, None, merchant="M2"), now=NOW)


def test_an_open_ended_contract_overlaps_everything_after_its_start(
    sessions: SqlAdminSessions,
) -> None:
    admin.add_contract(sessions, contract("C1", Y2026, None), now=NOW)
    with pytest.raises(AdminError, match="overlaps"):
        admin.add_contract(sessions, contract("C2", Y2027, Y2027 + timedelta(days=1)), now=NOW)
    with pytest.raises(AdminError, match="overlaps"):
        admin.add_contract(sessions, contract("C3", Y2025, None), now=NOW)
    admin.add_contract(sessions, contract("C4", Y2025, Y2026), now=NOW)


def test_a_duplicate_contract_id_is_refused_even_for_another_merchant(
    sessions: SqlAdminSessions,
) -> None:
    admin.add_contract(sessions, contract("C1", Y2025, Y2026), now=NOW)
    with pytest.raises(AdminError, match="already used"):
        admin.add_contract(sessions, contract("C1", Y2025, Y2026, merchant="M2"), now=NOW)


def test_two_concurrent_overlapping_contracts_cannot_both_be_added(
    sessions: SqlAdminSessions,
) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def add(n: int) -> None:
        barrier.wait()
        try:
            admin.add_contract(sessions, contract(f"C{n}", Y2025, None), now=NOW)
            outcomes.append("added")
        except AdminError:
            outcomes.append("refused")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added", "refused", "refused", "refused"]
    assert len(admin.list_contracts(sessions, merchant_id="M1")) == 1


def test_ending_a_contract_sets_its_end_and_only_shortens_it(sessions: SqlAdminSessions) -> None:
    admin.add_contract(sessions, contract("C1", Y2025, None), now=NOW)
    ended = admin.end_contract(sessions, "C1", at=Y2026, now=NOW)
    assert ended.valid_to == Y2026
    with pytest.raises(AdminError, match="only be shortened"):
        admin.end_contract(sessions, "C1", at=Y2027, now=NOW)
    with pytest.raises(AdminError, match="cannot end at or before its start"):
        admin.end_contract(sessions, "C1", at=Y2025, now=NOW)
    assert admin.end_contract(sessions, "C1", now=NOW).valid_to == NOW
    admin.add_contract(sessions, contract("C2", NOW, None), now=NOW)


def test_initialise_creates_one_platform_key_and_keeps_it(sessions: SqlAdminSessions) -> None:
    migrations: list[str] = []
    first = admin.initialise(
        sessions, migrate=lambda: migrations.append("up"), now=NOW, new_key=kit.platform_key
    )
    again = admin.initialise(sessions, migrate=lambda: migrations.append("up"), now=NOW)
    assert first.key_created and not again.key_created
    assert again.platform_key == first.platform_key
    assert migrations == ["up", "up"]


def test_rotating_the_platform_key_adds_a_version_and_retires_the_old(
    sessions: SqlAdminSessions, engine: object
) -> None:
    first = admin.initialise(sessions, migrate=lambda: None, now=NOW, new_key=kit.platform_key)
    rotated = admin.rotate_platform_key(sessions, now=NOW)
    assert rotated.key_version == first.platform_key.key_version + 1
    assert rotated.public_key_b64 != first.platform_key.public_key_b64
    assert admin.newest_platform_key(sessions) == rotated
    signing = Directory(SqlDirectoryReader(engine)).platform_key()  # type: ignore[arg-type]
    assert signing is not None and signing.key_version == rotated.key_version
    with sessions(read_only=True) as uow:
        statuses = {k.key_version: k.status for k in uow.admin.platform_keys()}
    assert statuses == {1: "retired", 2: "active"}


def test_without_a_platform_key_show_tells_the_operator_to_init(sessions: SqlAdminSessions) -> None:
    with pytest.raises(AdminError, match="asap-sync init"):
        admin.newest_platform_key(sessions)
