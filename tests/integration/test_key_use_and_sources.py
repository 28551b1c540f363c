"""A key's last use is remembered per process and written at most once an interval (never
backwards, never a directory change); a rejection keeps the caller's address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from asap_sync.storage.directory import SqlKeyUse
from asap_sync.storage.tables import client_keys, directory_version, rejections
from tests.integration.conftest import Platform
from tests.kit import CLIENT_ID, sync_body


def _last_used(engine: Engine) -> object:
    with engine.connect() as conn:
        return conn.execute(
            select(client_keys.c.last_used_at).where(client_keys.c.client_id == CLIENT_ID)
        ).scalar_one()


def _directory_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(directory_version.c.version)).scalar_one())


def test_a_verified_sync_marks_its_key_used_at_the_next_write(platform: Platform) -> None:
    version = _directory_version(platform.engine)
    assert platform.send(sync_body(requestId="r-use-1", outTransId="use-1")).success
    platform.advance(seconds=30)
    assert platform.send(sync_body(requestId="r-use-2", outTransId="use-2")).success
    assert _last_used(platform.engine) is None  # not written per sync
    platform.apis.key_use.flush()
    assert _last_used(platform.engine) == platform.now
    assert _directory_version(platform.engine) == version  # the servers' caches stand
    platform.apis.key_use.flush()  # nothing new: nothing written
    assert _last_used(platform.engine) == platform.now


def test_a_write_never_moves_a_last_use_backwards(platform: Platform) -> None:
    store = SqlKeyUse(platform.engine)
    later = platform.now + timedelta(minutes=5)
    store.record_key_use({(CLIENT_ID, 1): later})
    store.record_key_use({(CLIENT_ID, 1): platform.now})  # another process, behind
    assert _last_used(platform.engine) == later
    store.record_key_use({(CLIENT_ID, 1): later + timedelta(seconds=1), ("nobody", 1): later})
    assert _last_used(platform.engine) == later + timedelta(seconds=1)


def test_a_badly_signed_request_keeps_no_key_use(platform: Platform) -> None:
    bad = {"Signature": "algorithm=RSA256, signature=AAAA"}
    result = platform.send(sync_body(outTransId="bad-1"), headers=bad, source="203.0.113.5")
    assert result.error_code == "INVALID_SIGNATURE"
    platform.apis.key_use.flush()
    assert _last_used(platform.engine) is None


@pytest.mark.parametrize("signed", [True, False])
def test_a_rejection_keeps_the_callers_address(platform: Platform, signed: bool) -> None:
    headers = {} if signed else {"Signature": "algorithm=RSA256, signature=AAAA"}
    body = sync_body(outTransId="addr-1", tradeAmt={"value": "-1", "currency": "HKD"})
    assert not platform.send(body, headers=headers, source="198.51.100.23").success
    with platform.engine.connect() as conn:
        sources = conn.execute(select(rejections.c.source)).scalars().all()
    assert sources == ["198.51.100.23"]
