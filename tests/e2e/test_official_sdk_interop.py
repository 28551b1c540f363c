"""The official Alipay+ Python SDK talks to our server: its signatures in, our answers out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from asap_sync.wire import ENDPOINT_PATH, format_response_time, public_key_base64
from tests.e2e.conftest import Server
from tests.kit import CLIENT_ID, VECTORS, platform_key
from tests.official_sdk.harness import call, require_official


def test_a_request_signed_by_the_official_sdk_is_accepted_and_its_answer_verifies_there(
    server: Server,
) -> None:
    require_official()
    sample = json.loads(VECTORS["vectors"][0]["body"])
    sample["transDate"] = (datetime.now(UTC) - timedelta(days=2)).isoformat(timespec="seconds")
    body = json.dumps(sample, indent=4, ensure_ascii=False)
    sent_at = format_response_time(datetime.now(UTC))
    signature = call(
        {
            "op": "sign",
            "method": "POST",
            "path": ENDPOINT_PATH,
            "clientId": CLIENT_ID,
            "time": sent_at,
            "body": body,
            "privateKey": VECTORS["privateKeyPkcs8Base64"],
        }
    )["signature"]
    response = httpx.post(
        server.base_url + ENDPOINT_PATH,
        content=body.encode(),
        headers={
            "Content-Type": "application/json; charset=UTF-8",
            "Client-Id": CLIENT_ID,
            "Request-Time": sent_at,
            "Signature": f"algorithm=SHA256withRSA,keyVersion=1,signature={signature}",
        },
        timeout=30,
    )
    assert response.json() == {"success": True, "invokeResult": "SUCCESS"}
    header = response.headers["signature"]
    verdict = call(
        {
            "op": "verify",
            "method": "POST",
            "path": ENDPOINT_PATH,
            "clientId": response.headers["client-id"],
            "time": response.headers["response-time"],
            "body": response.text,
            "signature": header.split("signature=", 1)[1],
            "publicKey": public_key_base64(platform_key().public_key()),
        }
    )
    assert verdict == {"ok": True}


def test_a_rejection_answer_verifies_with_the_official_sdk_too(server: Server) -> None:
    require_official()
    response = httpx.get(server.base_url + ENDPOINT_PATH, headers={"Client-Id": CLIENT_ID})
    assert response.json()["errorCode"] == "METHOD_NOT_SUPPORTED"
    verdict = call(
        {
            "op": "verify",
            "method": "GET",
            "path": ENDPOINT_PATH,
            "clientId": CLIENT_ID,
            "time": response.headers["response-time"],
            "body": response.text,
            "signature": response.headers["signature"].split("signature=", 1)[1],
            "publicKey": public_key_base64(platform_key().public_key()),
        }
    )
    assert verdict == {"ok": True}
