"""What the real pipeline reports: every signed answer, rejection, batch and failure."""

from __future__ import annotations

from sqlalchemy import func, select, text

from asap_sync.storage.tables import rejections, transactions
from tests.kit import sync_body
from tests.observability.conftest import Served, sample

API = "externalInfoSync"


def test_accepted_and_rejected_syncs_are_counted_by_code_as_the_ledger_holds_them(
    served: Served,
) -> None:
    for n in range(3):
        assert served.sync(sync_body(requestId=f"r{n}", outTransId=f"T{n}")).json()["success"]
    assert served.sync(sync_body(requestId="x", merchantId="nobody")).json()["errorCode"] == (
        "INVALID_MERCHANT"
    )
    assert (
        served.sync(sync_body(requestId="c", tradeAmt={"currency": "USD", "value": "1"})).json()[
            "errorCode"
        ]
        == "CURRENCY_NOT_SUPPORT"
    )
    with served.engine.connect() as conn:
        accepted = conn.execute(select(func.count()).select_from(transactions)).scalar_one()
        by_code = dict(
            conn.execute(select(rejections.c.code, func.count()).group_by(rejections.c.code)).all()
        )
    assert sample(served, "asap_sync_requests_total", api=API, code="SUCCESS") == accepted == 3
    for code, count in by_code.items():
        assert sample(served, "asap_sync_requests_total", api=API, code=code) == count
        assert sample(served, "asap_sync_rejections_total", api=API, code=code) == count
    assert set(by_code) == {"INVALID_MERCHANT", "CURRENCY_NOT_SUPPORT"}
    assert sample(served, "asap_sync_request_duration_seconds_count", api=API) == 5


def test_each_answer_is_signed_once_and_each_signed_request_verified_once(served: Served) -> None:
    served.sync(sync_body())
    served.sync(sync_body(requestId="r2", outTransId="T2"))
    served.request("GET", "/amsin/commercial/certificate/accept")  # refused before any key
    sign = sample(served, "asap_sync_signature_duration_seconds_count", operation="sign")
    verify = sample(served, "asap_sync_signature_duration_seconds_count", operation="verify")
    assert (sign, verify) == (3, 2)


def test_every_accepted_sync_is_written_in_a_counted_batch(served: Served) -> None:
    for n in range(4):
        served.sync(sync_body(requestId=f"r{n}", outTransId=f"T{n}"))
    assert sample(served, "asap_sync_batch_size_sum") == 4
    assert sample(served, "asap_sync_batch_size_count") >= 1
    assert sample(served, "asap_sync_batch_write_duration_seconds_count") >= 1


def test_a_sync_overtaken_by_a_directory_change_is_counted_as_decided_again(
    served: Served,
) -> None:
    served.sync(sync_body(requestId="warm", outTransId="warm"))  # the gateway caches the directory
    with served.engine.begin() as conn:
        conn.execute(text("UPDATE directory_version SET version = version + 1"))
    assert served.sync(sync_body()).json()["success"]
    assert sample(served, "asap_sync_redecisions_total", reason="directory_changed") == 1


def test_a_rejection_the_log_cannot_keep_is_a_database_error_and_still_a_signed_answer(
    served: Served,
) -> None:
    with served.engine.begin() as conn:
        conn.execute(text("ALTER TABLE rejections RENAME TO rejections_away"))
    try:
        answer = served.sync(sync_body(merchantId="nobody"))
    finally:  # the PostgreSQL test database outlives this test
        with served.engine.begin() as conn:
            conn.execute(text("ALTER TABLE rejections_away RENAME TO rejections"))
    assert answer.status_code == 200 and answer.headers["signature"]
    assert answer.json()["errorCode"] == "INVALID_MERCHANT"
    assert sample(served, "asap_sync_database_errors_total", operation="rejection_log") == 1
    assert sample(served, "asap_sync_rejections_total", api=API, code="INVALID_MERCHANT") == 0
    assert sample(served, "asap_sync_requests_total", api=API, code="INVALID_MERCHANT") == 1
