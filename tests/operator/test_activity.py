"""Set up by the operator use cases, then watched: transactions and rejections on real storage."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from asap_sync import wire
from asap_sync.domain.model import Rule
from asap_sync.service import admin
from asap_sync.service.admin import ActivityFilter, NewContract
from asap_sync.storage.admin import SqlAdminSessions
from tests import kit
from tests.integration.conftest import NOW, Platform


def set_up_as_an_operator_would(sessions: SqlAdminSessions) -> None:
    admin.initialise(sessions, migrate=lambda: None, now=NOW, new_key=kit.platform_key)
    admin.add_client(sessions, kit.CLIENT_ID, name="seed ISV", now=NOW)
    key = wire.public_key_base64(kit.client_key().public_key())
    admin.add_client_key(sessions, kit.CLIENT_ID, key, now=NOW)
    admin.link_merchant(sessions, kit.CLIENT_ID, kit.MERCHANT_ID, now=NOW)
    admin.add_contract(
        sessions,
        NewContract(
            contract_id="CPS-1",
            merchant_id=kit.MERCHANT_ID,
            valid_from=datetime(2025, 1, 1, tzinfo=UTC),
            rules={"RENEWAL": Rule(kind="rate", value=150)},
        ),
        now=NOW,
    )


def test_a_sync_accepted_after_operator_setup_is_listed_with_its_commission(
    sessions: SqlAdminSessions, engine: Engine
) -> None:
    set_up_as_an_operator_would(sessions)
    platform = Platform(engine)
    assert platform.send(kit.sync_body()).success
    assert platform.send(kit.sync_body(requestId="r2", outTransId="T-2")).success
    listed = admin.recent_transactions(sessions, ActivityFilter(merchant_id=kit.MERCHANT_ID))
    assert [t.out_trans_id for t in listed] == ["T-2", "T-1"]
    first = listed[-1]
    assert (first.status, first.amount_minor, first.contract_id) == ("PENDING", 24800, "CPS-1")
    assert first.commission_e4 == 24800 * 150
    assert first.period == "2025-04"
    limited = admin.recent_transactions(sessions, ActivityFilter(limit=1))
    assert [t.out_trans_id for t in limited] == ["T-2"]
    assert admin.recent_transactions(sessions, ActivityFilter(client_id="nobody")) == []


def test_a_rejected_sync_is_listed_with_its_code_and_context(
    sessions: SqlAdminSessions, engine: Engine
) -> None:
    set_up_as_an_operator_would(sessions)
    platform = Platform(engine)
    result = platform.send(kit.sync_body(merchantId="someone-else"))
    assert result.error_code == "INVALID_MERCHANT"
    [rejection] = admin.recent_rejections(sessions, ActivityFilter(client_id=kit.CLIENT_ID))
    assert rejection.code == "INVALID_MERCHANT"
    assert rejection.merchant_id == "someone-else" and rejection.request_id == "req-1"
    assert admin.recent_rejections(sessions, ActivityFilter(merchant_id=kit.MERCHANT_ID)) == []


def test_an_unlinked_merchant_is_rejected_after_the_operator_unlinks_it(
    sessions: SqlAdminSessions, engine: Engine
) -> None:
    set_up_as_an_operator_would(sessions)
    admin.unlink_merchant(sessions, kit.CLIENT_ID, kit.MERCHANT_ID)
    assert Platform(engine).send(kit.sync_body()).error_code == "INVALID_MERCHANT"
