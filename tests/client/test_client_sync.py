"""The blocking client against the fake platform: signing, verification, results."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import unquote

import httpx
import pytest

from asap_sync import wire
from asap_sync.client import (
    Client,
    Goods,
    OrderNotExistError,
    ResponseSignatureError,
    Transaction,
)

from .fakes import CLIENT_ID, FakeClock, FakePlatform, signed_answer


def a_payment(**overrides: object) -> Transaction:
    fields: dict[str, object] = {
        "merchant_id": "2160120033934460",
        "out_trans_id": "T-1",
        "trans_date": "2025-04-05T06:30:00Z",
        "entity_type": "phone",
        "entity_id": "12345678900",
        "amount": 24800,
        "goods": [Goods(code="RENEWAL", price=Decimal("248.00"), name="續約")],
    }
    fields.update(overrides)
    return Transaction(**fields)  # type: ignore[arg-type]


def test_a_sync_that_the_platform_accepts_returns_a_verified_success(
    client: Client, platform: FakePlatform
) -> None:
    result = client.sync(a_payment())
    assert result.code == "SUCCESS"
    assert result.request_id == "T-1"
    assert result.attempts == 1
    assert platform.accepted == {"T-1": 1}


def test_the_request_carries_exactly_the_documented_headers(
    client: Client, platform: FakePlatform
) -> None:
    seen: list[httpx.Request] = []
    inner = platform.handle

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return inner(request)

    platform.handle = spy  # type: ignore[method-assign]
    client._http._transport = httpx.MockTransport(spy)
    client.sync(a_payment())
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == "https://asap.test/amsin/commercial/certificate/accept"
    assert request.headers["content-type"] == "application/json; charset=UTF-8"
    assert request.headers["client-id"] == CLIENT_ID
    assert request.headers["request-time"] == "2025-05-01T12:00:00+00:00"
    header = request.headers["signature"]
    assert header.startswith("algorithm=RSA256,keyVersion=2,signature=")
    value = header.split("signature=", 1)[1]
    assert "+" not in value and "/" not in value and "=" not in value
    assert wire.parse_request_time(request.headers["request-time"]).tzinfo is not None
    assert unquote(value)


def test_the_signature_covers_method_path_client_time_and_the_exact_body(
    client: Client, platform: FakePlatform, merchant_key: object
) -> None:
    client.sync(a_payment())
    got = platform.received[0]
    content = wire.signing_content(
        "POST", wire.ENDPOINT_PATH, CLIENT_ID, got.request_time, got.body
    )
    signature = wire.parse_signature_header(got.signature).signature
    assert wire.verify(content, signature, platform.merchant_public_key)


def test_the_body_is_compact_utf8_with_request_id_defaulting_to_out_trans_id(
    client: Client, platform: FakePlatform
) -> None:
    client.sync(a_payment())
    body = platform.received[0].body
    assert "續約".encode() in body
    assert b'"requestId":"T-1"' in body
    assert b'"tradeAmt":{"currency":"HKD","value":"24800"}' in body


def test_a_signed_rejection_raises_the_error_class_of_its_code(
    client: Client, platform: FakePlatform
) -> None:
    platform.script(wire.ResultCode.ORDER_NOT_EXIST)
    with pytest.raises(OrderNotExistError) as caught:
        client.sync(a_payment())
    assert caught.value.code == "ORDER_NOT_EXIST"
    assert caught.value.context == wire.ResultCode.ORDER_NOT_EXIST.message
    assert caught.value.request_id == "T-1"
    assert caught.value.attempts == 1


def test_an_unsigned_answer_is_refused(client: Client, platform: FakePlatform) -> None:
    platform.script(lambda: httpx.Response(200, content=wire.SyncResult.ok().to_bytes()))
    with pytest.raises(ResponseSignatureError, match="unsigned"):
        client.sync(a_payment())
    assert len(platform.received) == 1


def test_an_answer_whose_body_was_altered_is_refused(
    client: Client, platform: FakePlatform
) -> None:
    platform.script(wire.ResultCode.ORDER_NOT_EXIST)
    platform.tamper = None
    real = platform.answer

    def forged(result: wire.SyncResult) -> httpx.Response:
        signed = real(result)
        return httpx.Response(200, headers=signed.headers, content=wire.SyncResult.ok().to_bytes())

    platform.answer = forged  # type: ignore[method-assign]
    with pytest.raises(ResponseSignatureError, match="does not verify"):
        client.sync(a_payment())


def test_an_answer_signed_by_another_key_is_refused(
    client: Client, platform: FakePlatform, merchant_key: object
) -> None:
    platform.platform_private_key = merchant_key  # type: ignore[assignment]
    with pytest.raises(ResponseSignatureError, match="does not verify"):
        client.sync(a_payment())


def test_an_answer_signed_for_another_client_id_is_refused(
    client: Client, platform: FakePlatform, platform_key: object, clock: FakeClock
) -> None:
    body = wire.SyncResult.ok().to_bytes()
    platform.script(lambda: signed_answer(body, platform_key, "someone-else", clock.now))  # type: ignore[arg-type]
    with pytest.raises(ResponseSignatureError, match="not ours"):
        client.sync(a_payment())


def test_a_stale_signed_answer_is_refused_as_a_possible_replay(
    client: Client, platform: FakePlatform, clock: FakeClock
) -> None:
    from datetime import timedelta

    platform.clock = lambda: clock.now - timedelta(hours=1)
    with pytest.raises(ResponseSignatureError, match="outside"):
        client.sync(a_payment())


def test_the_raw_seed_shaped_request_model_can_be_sent_as_is(
    client: Client, platform: FakePlatform
) -> None:
    request = a_payment(request_id="550e8400-e29b-41d4-a716-446655440000").to_request()
    assert client.sync(request).request_id == "550e8400-e29b-41d4-a716-446655440000"
