"""End to end: a multi-worker server process, real HTTP, real signatures."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from asap_sync.storage.tables import commission_lines, transactions
from asap_sync.wire import (
    ENDPOINT_PATH,
    format_response_time,
    parse_signature_header,
    signing_content,
    verify,
)
from tests.e2e.conftest import Server
from tests.kit import VECTORS, encode, platform_key, signed_headers, sync_body


def recent() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")


def post(server: Server, raw: bytes, **sign: object) -> httpx.Response:
    headers = signed_headers(raw, request_time=format_response_time(datetime.now(UTC)), **sign)  # type: ignore[arg-type]
    return httpx.post(server.base_url + ENDPOINT_PATH, content=raw, headers=headers, timeout=30)


def answer_verifies(response: httpx.Response, method: str = "POST") -> bool:
    content = signing_content(
        method,
        ENDPOINT_PATH,
        response.headers["client-id"],
        response.headers["response-time"],
        response.content,
    )
    signature = parse_signature_header(response.headers["signature"]).signature
    return verify(content, signature, platform_key().public_key())


def count(server: Server) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(transactions)).scalar_one())


def test_the_seed_sample_is_accepted_over_http_with_a_signed_answer(server: Server) -> None:
    sample = json.loads(VECTORS["vectors"][0]["body"])
    sample["transDate"] = recent()
    response = post(server, json.dumps(sample, indent=4, ensure_ascii=False).encode())
    assert response.status_code == 200
    assert response.json() == {"success": True, "invokeResult": "SUCCESS"}
    assert answer_verifies(response)
    raw_names = [k for k, _ in response.headers.raw]
    for name in (b"client-id", b"response-time", b"signature", b"content-type"):
        assert name in raw_names
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    with server.engine.connect() as conn:
        assert conn.execute(select(commission_lines.c.commission_e4)).scalar_one() == 24800 * 150


def test_a_rejection_is_http_200_and_signed(server: Server) -> None:
    response = post(server, encode(sync_body(merchantId="nobody", transDate=recent())))
    assert response.status_code == 200
    assert response.json()["errorCode"] == "INVALID_MERCHANT"
    assert answer_verifies(response)


def test_a_get_is_answered_method_not_supported_and_signed(server: Server) -> None:
    response = httpx.get(server.base_url + ENDPOINT_PATH, headers={"Client-Id": "x"})
    assert response.status_code == 200
    assert response.json()["errorCode"] == "METHOD_NOT_SUPPORTED"
    assert answer_verifies(response, method="GET")


def test_an_absolute_form_request_target_is_accepted(server: Server) -> None:
    raw = encode(sync_body(transDate=recent()))
    headers = signed_headers(raw, request_time=format_response_time(datetime.now(UTC)))
    head = f"POST http://127.0.0.1:{server.port}{ENDPOINT_PATH} HTTP/1.1\r\n"
    head += f"Host: 127.0.0.1:{server.port}\r\nContent-Length: {len(raw)}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode() + raw)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status, _, rest = reply.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 200")
    assert rest.split(b"\r\n\r\n", 1)[1] == b'{"success":true,"invokeResult":"SUCCESS"}'


def test_an_unknown_path_is_404_and_health_is_200(server: Server) -> None:
    assert httpx.get(server.base_url + "/nope").status_code == 404
    assert httpx.get(server.base_url + "/healthz").json() == {"status": "ok"}


def test_the_same_request_from_many_connections_is_processed_once(server: Server) -> None:
    raw = encode(sync_body(transDate=recent()))
    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(lambda _: post(server, raw), range(48)))
    assert {r.json()["invokeResult"] for r in responses} == {"SUCCESS"}
    assert count(server) == 1


def test_one_transaction_under_many_request_ids_at_once_is_written_once(server: Server) -> None:
    bodies = [encode(sync_body(requestId=f"r{n}", transDate=recent())) for n in range(32)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda raw: post(server, raw), bodies))
    assert {r.json()["invokeResult"] for r in responses} == {"SUCCESS"}
    assert count(server) == 1


def test_concurrent_refunds_never_exceed_the_origin_amount(server: Server) -> None:
    assert post(server, encode(sync_body(transDate=recent()))).json()["success"]
    refunds = [
        encode(
            sync_body(
                requestId=f"R{n}",
                outTransId=f"R{n}",
                transDirection="refund",
                originTransId="T-1",
                extendInfo=None,
                transDate=recent(),
                tradeAmt={"currency": "HKD", "value": "10000"},
            )
        )
        for n in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = [
            r.json().get("errorCode") for r in pool.map(lambda raw: post(server, raw), refunds)
        ]
    assert codes.count(None) == 2  # 2 × 100.00 of 248.00
    assert set(codes) == {None, "INVALID_AMOUNT"}
    with server.engine.connect() as conn:
        refunded = conn.execute(
            select(func.sum(transactions.c.amount_minor)).where(
                transactions.c.direction == "refund"
            )
        ).scalar_one()
    assert refunded == 20000
