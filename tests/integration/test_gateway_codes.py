"""Gateway checks of SPEC §2, in their order, each answered signed with HTTP semantics intact."""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from asap_sync.storage.tables import client_keys, clients, rejections
from asap_sync.wire import format_response_time, generate_private_key
from tests.integration.conftest import Platform
from tests.kit import encode, register, signed_headers, sync_body


def test_a_valid_signed_sync_is_accepted(platform: Platform) -> None:
    result = platform.send(sync_body())
    assert (result.success, result.invoke_result, result.error_code) == (True, "SUCCESS", None)
    assert platform.count() == 1


def test_a_get_is_method_not_supported(platform: Platform) -> None:
    assert platform.send(b"", method="GET").error_code == "METHOD_NOT_SUPPORTED"


def test_a_form_body_is_media_type_not_acceptable(platform: Platform) -> None:
    result = platform.send(
        sync_body(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert result.error_code == "MEDIA_TYPE_NOT_ACCEPTABLE"


def test_method_is_checked_before_media_type(platform: Platform) -> None:
    result = platform.send(b"", method="PUT", headers={"Content-Type": "text/plain"})
    assert result.error_code == "METHOD_NOT_SUPPORTED"


def test_each_missing_header_is_request_param_illegal_naming_it(platform: Platform) -> None:
    for header in ("Signature", "Request-Time"):
        result = platform.send(sync_body(), drop=(header,))
        assert result.error_code == "REQUEST_PARAM_ILLEGAL"
        assert header in (result.error_context or "")


def test_a_missing_client_id_is_request_param_illegal(platform: Platform) -> None:
    result = platform.send(sync_body(), drop=("Client-Id",))
    assert result.error_code == "REQUEST_PARAM_ILLEGAL"
    assert "Client-Id" in (result.error_context or "")


def test_a_body_over_the_limit_is_request_param_illegal(platform: Platform) -> None:
    result = platform.send(sync_body(), too_large=True)
    assert result.error_code == "REQUEST_PARAM_ILLEGAL"
    assert "limit" in (result.error_context or "")


def test_an_unknown_client_is_invalid_client(platform: Platform) -> None:
    result = platform.send(sync_body(), client_id="999")
    assert result.error_code == "INVALID_CLIENT"


def test_a_disabled_client_is_invalid_client(platform: Platform) -> None:
    with platform.engine.begin() as conn:
        conn.execute(update(clients).values(status="disabled"))
    assert platform.send(sync_body()).error_code == "INVALID_CLIENT"


def test_an_unregistered_key_version_is_key_not_found(platform: Platform) -> None:
    assert platform.send(sync_body(), key_version=7).error_code == "KEY_NOT_FOUND"


def test_a_retired_key_version_is_key_not_found(platform: Platform) -> None:
    with platform.engine.begin() as conn:
        conn.execute(update(client_keys).values(status="retired"))
    assert platform.send(sync_body()).error_code == "KEY_NOT_FOUND"


def test_no_key_version_means_the_newest_active_key(platform: Platform) -> None:
    assert platform.send(sync_body(), key_version=None).success


def test_a_signature_by_another_key_is_invalid_signature(platform: Platform) -> None:
    result = platform.send(sync_body(), key=generate_private_key())
    assert result.error_code == "INVALID_SIGNATURE"


def test_an_unknown_algorithm_is_invalid_signature(platform: Platform) -> None:
    raw = encode(sync_body())
    headers = signed_headers(raw, request_time=format_response_time(platform.now))
    headers["Signature"] = headers["Signature"].replace("RSA256", "RSA512")
    result = platform.send(raw, headers=headers, request_time=headers["Request-Time"])
    assert result.error_code == "INVALID_SIGNATURE"


def test_sha256withrsa_in_any_case_is_accepted(platform: Platform) -> None:
    raw = encode(sync_body())
    headers = signed_headers(raw, request_time=format_response_time(platform.now))
    headers["Signature"] = " " + headers["Signature"].replace(
        "algorithm=RSA256,", "algorithm=SHA256withRSA , "
    )
    assert platform.send(raw, headers=headers, request_time=headers["Request-Time"]).success


def test_a_body_changed_after_signing_is_invalid_signature(platform: Platform) -> None:
    raw = encode(sync_body())
    headers = signed_headers(raw, request_time=format_response_time(platform.now))
    tampered = raw.replace(b"24800", b"24801", 1)
    result = platform.send(tampered, headers=headers, request_time=headers["Request-Time"])
    assert result.error_code == "INVALID_SIGNATURE"


def test_request_time_outside_the_window_is_request_param_illegal(platform: Platform) -> None:
    result = platform.send(sync_body(), request_time="2025-04-20T09:40:00+08:00")
    assert result.error_code == "REQUEST_PARAM_ILLEGAL"
    assert "Request-Time" in (result.error_context or "")


def test_request_time_in_every_wild_format_is_accepted(platform: Platform) -> None:
    formats = [
        "2025-04-20T10:01:00+08:00",
        "2025-04-20T02:01:00Z",
        "2025-04-20T10:01:00.123+0800",
        "2025-04-20T02:01:00.123456789Z",
        str(int(platform.now.timestamp() * 1000)),
    ]
    for n, value in enumerate(formats):
        body = sync_body(requestId=f"r{n}", outTransId=f"T{n}")
        assert platform.send(body, request_time=value).success, value


def test_unparseable_request_time_is_request_param_illegal(platform: Platform) -> None:
    result = platform.send(sync_body(), request_time="yesterday")
    assert result.error_code == "REQUEST_PARAM_ILLEGAL"


def test_signature_is_checked_before_request_time(platform: Platform) -> None:
    result = platform.send(sync_body(), request_time="yesterday", key=generate_private_key())
    assert result.error_code == "INVALID_SIGNATURE"


def test_a_client_over_its_rate_limit_is_refused(engine: Engine) -> None:
    register(engine)
    limited = Platform(engine, rate_limit_per_second=1.0)
    first = limited.send(sync_body())
    second = limited.send(sync_body(requestId="r2", outTransId="T2"))
    assert first.success
    assert second.error_code == "REQUEST_TRAFFIC_EXCEED_LIMIT"


def test_rejections_are_recorded_for_the_operator_and_not_in_the_ledger(
    platform: Platform,
) -> None:
    platform.send(sync_body(merchantId="someone-else"))
    with platform.engine.connect() as conn:
        rows = conn.execute(select(rejections)).all()
    assert [(r.code, r.merchant_id, r.request_id) for r in rows] == [
        ("INVALID_MERCHANT", "someone-else", "req-1")
    ]
    assert platform.count() == 0


def test_a_key_retired_after_the_cache_was_warmed_stops_verifying_at_once(
    platform: Platform,
) -> None:
    assert platform.send(sync_body()).success  # the worker now caches client and key
    with platform.engine.begin() as conn:
        conn.execute(update(client_keys).values(status="retired"))
    result = platform.send(sync_body(requestId="req-2", outTransId="T-2"))
    assert result.error_code == "KEY_NOT_FOUND"
    assert platform.count() == 1


def test_a_client_disabled_after_the_cache_was_warmed_is_refused_at_once(
    platform: Platform,
) -> None:
    assert platform.send(sync_body()).success
    with platform.engine.begin() as conn:
        conn.execute(update(clients).values(status="disabled"))
    assert platform.send(sync_body()).error_code == "INVALID_CLIENT"  # even a replay
    with platform.engine.begin() as conn:
        conn.execute(update(clients).values(status="active"))
    assert platform.send(sync_body()).success


def test_every_request_leaves_the_count_of_requests_in_flight(platform: Platform) -> None:
    """The writer's group commit reads the count: a request that did not leave it (a rejection,
    a failure) would make the writer wait for a sync that never comes."""
    platform.send(sync_body())
    platform.send(sync_body(), key=generate_private_key())
    platform.send(b"{not json", request_time=format_response_time(platform.now))
    assert platform.apis.in_flight.count == 0
