"""Each finding of the edge review, reproduced over real HTTP against ``asap-sync serve``."""

from __future__ import annotations

import json
import random
import socket
import threading
import time

import pytest
from sqlalchemy import insert, select, update

from asap_sync.storage.engine import make_engine
from asap_sync.storage.tables import clients, rejections
from tests.hostile.harness import (
    HEAD_TIMEOUT,
    HostileServer,
    Reply,
    exchange,
    read_reply,
    signed_answer_problem,
)
from tests.hostile.requests import Request, compact, fresh_body
from tests.kit import T0, encode


def body(**fields: object) -> bytes:
    return compact(fresh_body(random.Random(), **fields))


def answer(server: HostileServer, request: Request) -> dict[str, str]:
    reply = exchange(server.port, request.frame())
    assert signed_answer_problem(reply, request.method) is None, reply
    decoded: dict[str, str] = json.loads(reply.body)
    return decoded


def code_of(server: HostileServer, request: Request) -> tuple[str, str]:
    decoded = answer(server, request)
    return decoded.get("errorCode", "SUCCESS"), decoded.get("errorContext", "")


def test_a_thousand_levels_of_nesting_anywhere_are_a_signed_request_param_illegal(
    hostile_server: HostileServer,
) -> None:
    deep = "[" * 1000 + "]" * 1000
    ignored = body()[:-1] + b',"ignored":' + deep.encode() + b"}"
    assert code_of(hostile_server, Request(ignored).sign()) == (
        "REQUEST_PARAM_ILLEGAL",
        "body: nested deeper than 64 levels",
    )
    in_string = body(extendInfo='{"goodsInfoList":' + deep + "}")
    assert code_of(hostile_server, Request(in_string).sign()) == (
        "REQUEST_PARAM_ILLEGAL",
        "extendInfo: nested deeper than 64 levels in the JSON string",
    )


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_a_trans_date_beyond_what_a_date_holds_is_request_param_illegal_naming_it(
    hostile_server: HostileServer, when: str
) -> None:
    assert code_of(hostile_server, Request(body(transDate=when)).sign()) == (
        "REQUEST_PARAM_ILLEGAL",
        "transDate: is not a valid date and time",
    )


@pytest.mark.parametrize("version", ["\u00b2", "9" * 5000, "1234567890", "\u0661"])
def test_a_key_version_that_is_not_one_to_nine_ascii_digits_is_key_not_found(
    hostile_server: HostileServer, version: str
) -> None:
    code, _ = code_of(hostile_server, Request(body()).sign(key_version=version))
    assert code == "KEY_NOT_FOUND"


@pytest.mark.parametrize(
    "extra",
    [b'"x":NaN', b'"x":Infinity', b'"x":-Infinity', b'"x":1e400', b'"x":' + b"9" * 5000],
)
def test_nan_infinity_and_numbers_out_of_range_are_illegal_even_in_ignored_fields(
    hostile_server: HostileServer, extra: bytes
) -> None:
    code, _ = code_of(hostile_server, Request(body()[:-1] + b"," + extra + b"}").sign())
    assert code == "REQUEST_PARAM_ILLEGAL"


@pytest.mark.parametrize("name", [b"Client-Id", b"Request-Time", b"Signature", b"Content-Type"])
def test_a_single_valued_header_sent_twice_is_request_param_illegal(
    hostile_server: HostileServer, name: bytes
) -> None:
    request = Request(body()).sign()
    request.add(name, dict(request.headers)[name])
    assert code_of(hostile_server, request) == (
        "REQUEST_PARAM_ILLEGAL",
        f"header {name.decode()}: sent 2 times; send it once",
    )


@pytest.mark.parametrize(
    "target",
    [b"/amsin/commercial/certificate/%61ccept", b"/amsin/commercial/certificate/accept?a=b"],
)
def test_a_percent_encoded_path_or_a_query_string_is_refused_though_correctly_signed(
    hostile_server: HostileServer, target: bytes
) -> None:
    request = Request(body()).sign()
    request.target = target
    code, context = code_of(hostile_server, request)
    assert code == "REQUEST_PARAM_ILLEGAL" and context.startswith("request target:")


def test_a_fifty_megabyte_head_is_refused_with_431_without_growing_the_worker(
    hostile_server: HostileServer,
) -> None:
    before = hostile_server.rss_kib()
    for _ in range(5):
        payload = b"POST /amsin/commercial/certificate/accept HTTP/1.1\r\nX-A: "
        reply = exchange(hostile_server.port, payload + b"a" * 50_000_000 + b"\r\n\r\n")
        assert reply.status in (431, None)  # None: the refusal was reset with the unread rest
    assert hostile_server.rss_kib() - before < 16 * 1024
    reply = exchange(hostile_server.port, b"GET / HTTP/1.1\r\nX-A: " + b"a" * 20000 + b"\r\n\r\n")
    assert reply.status == 431


def test_slowloris_connections_are_cut_off_at_the_head_deadline(
    hostile_server: HostileServer,
) -> None:
    sockets = []
    for _ in range(300):
        sock = socket.create_connection(("127.0.0.1", hostile_server.port))
        sock.sendall(b"POST /amsin/commercial/certificate/accept HTTP/1.1\r\nHost: x\r\n")
        sockets.append(sock)
    assert code_of(hostile_server, Request(body()).sign())[0] == "SUCCESS"  # still serving
    time.sleep(HEAD_TIMEOUT + 1.5)
    for sock in sockets:
        sock.settimeout(5)
        data = sock.recv(65536)
        assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:40]
        sock.close()


def _stream(port: int, head: bytes, chunk: bytes, total: int) -> tuple[Reply, int]:
    """Send ``head`` then up to ``total`` bytes of ``chunk``; the answer, and what was sent."""
    sent = [0]
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)

    def pump() -> None:
        try:
            sock.sendall(head)
            while sent[0] < total:
                sock.sendall(chunk)
                sent[0] += len(chunk)
        except OSError:
            return

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    reply = read_reply(sock)
    thread.join(timeout=30)
    sock.close()
    return reply, sent[0]


@pytest.mark.parametrize("framing", ["declared", "chunked"])
def test_a_hundred_megabyte_body_is_refused_signed_before_it_is_read(
    hostile_server: HostileServer, framing: str
) -> None:
    request = Request(encode({"x": 1})).sign()
    request.content_length = False
    if framing == "declared":
        request.add(b"Content-Length", b"100000000")
        chunk = b"x" * 65536
    else:
        request.add(b"Transfer-Encoding", b"chunked")
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    head = request.frame().partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    reply, sent = _stream(hostile_server.port, head, chunk, 100_000_000)
    assert signed_answer_problem(reply, "POST") is None
    assert json.loads(reply.body)["errorCode"] == "REQUEST_PARAM_ILLEGAL"
    assert reply.headers.get("connection") == "close"
    assert sent < 20_000_000


def _rejections(server: HostileServer) -> list[tuple[str | None, str]]:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(rejections.c.client_id, rejections.c.context)).all()
    finally:
        engine.dispose()
    return [(r.client_id, r.context) for r in rows]


def test_a_ten_thousand_character_client_id_is_neither_echoed_nor_stored_whole(
    hostile_server: HostileServer,
) -> None:
    claimed = "C" * 10_000
    request = Request(body()).sign(client_id=claimed)
    reply = exchange(hostile_server.port, request.frame())
    assert signed_answer_problem(reply, "POST") is None
    assert len(reply.body) < 300 and reply.headers["client-id"] == "C" * 64
    assert json.loads(reply.body)["errorCode"] == "REQUEST_PARAM_ILLEGAL"
    stored = [(c, ctx) for c, ctx in _rejections(hostile_server) if c and c.startswith("CCC")]
    assert all(len(c or "") <= 64 and len(ctx) <= 300 for c, ctx in stored)
    assert "Traceback" not in hostile_server.log_text()


def test_an_unknown_and_a_disabled_client_get_the_same_answer(
    hostile_server: HostileServer,
) -> None:
    engine = make_engine(hostile_server.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(clients), {"client_id": "disabled-client", "name": "x", "created_at": T0}
            )
            conn.execute(
                update(clients)
                .where(clients.c.client_id == "disabled-client")
                .values(status="disabled")
            )
    finally:
        engine.dispose()
    unknown = code_of(hostile_server, Request(body()).sign(client_id="unknown-client"))
    disabled = code_of(hostile_server, Request(body()).sign(client_id="disabled-client"))
    assert unknown == disabled == ("INVALID_CLIENT", "Client-Id: not an active client")
