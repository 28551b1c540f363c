"""Golden vectors of the official Alipay+ SDK, and a live cross-check against it.

Our SDK must sign exactly as the official one (RSASSA-PKCS1-v1_5 is deterministic), verify
the answers it signs, produce requests its ``check_signature`` accepts, and only accept
answers that its ``verify`` accepts too.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync import wire
from asap_sync.client import Client, ResponseSignatureError
from asap_sync.client._protocol import AnswerCheck, Credentials

from .fakes import CLIENT_ID, FakeClock, FakePlatform
from .test_client_sync import a_payment

try:  # tests/ may or may not be a package
    from tests.official_sdk import harness
except ModuleNotFoundError:  # pragma: no cover
    from official_sdk import harness  # type: ignore[no-redef]


def _of_kind(vectors: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v for v in vectors["vectors"] if v["kind"] == kind]


def _credentials(vectors: dict[str, Any]) -> Credentials:
    return Credentials.load(
        client_id=CLIENT_ID,
        private_key=vectors["privateKeyPkcs8Base64"],
        platform_public_key=vectors["publicKeySpkiBase64"],
        key_version=1,
    )


def test_our_request_signature_header_equals_the_official_sdks_for_every_vector(
    vectors: dict[str, Any],
) -> None:
    credentials = _credentials(vectors)
    for vector in _of_kind(vectors, "request"):
        headers = credentials.signed_headers(vector["body"].encode(), vector["time"])
        assert headers["Signature"] == vector["signatureHeader"], vector["name"]


def test_official_answers_verify_with_our_sdk(vectors: dict[str, Any]) -> None:
    check = AnswerCheck(
        credentials=_credentials(vectors), clock=FakeClock(), response_time_window=None
    )
    for vector in _of_kind(vectors, "response"):
        headers = {
            "client-id": vector["clientId"],
            "response-time": vector["time"],
            "signature": vector["signatureHeader"],
        }
        result = check.result(200, headers, vector["body"].encode())
        assert result.success == ("ORDER_NOT_EXIST" not in vector["body"]), vector["name"]


def test_an_official_answer_with_one_byte_changed_is_refused(vectors: dict[str, Any]) -> None:
    check = AnswerCheck(
        credentials=_credentials(vectors), clock=FakeClock(), response_time_window=None
    )
    vector = _of_kind(vectors, "response")[0]
    headers = {
        "client-id": vector["clientId"],
        "response-time": vector["time"],
        "signature": vector["signatureHeader"],
    }
    with pytest.raises(ResponseSignatureError):
        check.result(200, headers, vector["body"].replace("true", "false").encode())


@pytest.fixture(scope="module")
def official() -> None:
    harness.require_official()


def test_requests_our_client_signs_pass_the_official_check_signature(
    official: None, client: Client, platform: FakePlatform, merchant_key: rsa.RSAPrivateKey
) -> None:
    client.sync(a_payment())
    client.sync(a_payment(out_trans_id="T-2", request_id="需要-ünïcode", amount=0))
    public = wire.public_key_base64(merchant_key.public_key())
    items = [
        {
            "op": "check_signature",
            "method": "POST",
            "path": wire.ENDPOINT_PATH,
            "clientId": CLIENT_ID,
            "time": got.request_time,
            "body": got.body.decode(),
            "signature": got.signature,
            "publicKey": public,
        }
        for got in platform.received
    ]
    answers = harness.call({"op": "batch", "items": items})["results"]
    assert answers == [{"ok": True}] * len(items)


def test_answers_our_client_accepts_verify_with_the_official_sdk_and_forgeries_fail_both(
    official: None, client: Client, platform: FakePlatform, platform_key: rsa.RSAPrivateKey
) -> None:
    answers: list[httpx.Response] = []
    real = platform.answer

    def keep(result: wire.SyncResult) -> httpx.Response:
        answers.append(real(result))
        return answers[-1]

    platform.answer = keep  # type: ignore[method-assign]
    client.sync(a_payment())
    platform.script(wire.ResultCode.INVALID_MERCHANT)
    with pytest.raises(Exception, match="INVALID_MERCHANT"):
        client.sync(a_payment(out_trans_id="T-3"))
    public = wire.public_key_base64(platform_key.public_key())

    def item(response: httpx.Response, body: bytes) -> dict[str, Any]:
        return {
            "op": "verify",
            "method": "POST",
            "path": wire.ENDPOINT_PATH,
            "clientId": response.headers["client-id"],
            "time": response.headers["response-time"],
            "body": body.decode(),
            "signature": response.headers["signature"].split("signature=", 1)[1],
            "publicKey": public,
        }

    genuine = [item(r, r.content) for r in answers]
    forged = [item(r, r.content.replace(b"true", b"false")) for r in answers[:1]]
    results = harness.call({"op": "batch", "items": genuine + forged})["results"]
    assert [r["ok"] for r in results] == [True, True, False]
