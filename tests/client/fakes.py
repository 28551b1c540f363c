"""An in-process fake of the platform, behind ``httpx.MockTransport``.

It checks each request the way the real server does (Signature over the exact body with the
merchant's registered key, body rules of the wire package, idempotency by requestId) and
answers with a signed 200, rejections included. Tests script failures on top.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync import wire

CLIENT_ID = "211020000000000000044"
Code = wire.ResultCode


@dataclass
class Received:
    request_id: str | None
    request_time: str
    signature: str
    body: bytes


@dataclass
class FakePlatform:
    merchant_public_key: rsa.RSAPublicKey
    platform_private_key: rsa.RSAPrivateKey
    client_id: str = CLIENT_ID
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    received: list[Received] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    bound: dict[str, dict[str, object]] = field(default_factory=dict)
    scripted: deque[Code | Exception | Callable[[], httpx.Response]] = field(default_factory=deque)
    decide: Callable[[wire.SyncRequest], Code | None] | None = None
    tamper: Callable[[httpx.Response], httpx.Response] | None = None

    def script(self, *steps: Code | Exception | Callable[[], httpx.Response]) -> None:
        """Answer the next requests with these codes / raise these errors, then normally."""
        self.scripted.extend(steps)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.received.append(
            Received(
                request_id=_request_id(body),
                request_time=request.headers.get("request-time", ""),
                signature=request.headers.get("signature", ""),
                body=body,
            )
        )
        if self.scripted:
            step = self.scripted.popleft()
            if isinstance(step, Exception):
                raise step
            if isinstance(step, Code):
                return self.answer(wire.SyncResult.failed(step))
            return step()
        response = self.answer(self._process(request, body))
        return self.tamper(response) if self.tamper else response

    def _process(self, request: httpx.Request, body: bytes) -> wire.SyncResult:
        gateway = self._gateway(request, body)
        if gateway is not None:
            return wire.SyncResult.failed(gateway)
        try:
            parsed = wire.parse_sync_body(body)
        except wire.BodyError as exc:
            return wire.SyncResult.failed(exc.code, exc.context)
        content = parsed.canonical()
        bound = self.bound.get(parsed.request_id)
        if bound is not None:
            if bound != content:
                return wire.SyncResult.failed(Code.IDEMPOTENCY_EXCEPTION, "content differs")
            return wire.SyncResult.ok()
        decided = self.decide(parsed) if self.decide else None
        if decided is not None and decided is not Code.SUCCESS:
            return wire.SyncResult.failed(decided)
        self.bound[parsed.request_id] = content
        self.accepted[parsed.request_id] += 1
        return wire.SyncResult.ok()

    def _gateway(self, request: httpx.Request, body: bytes) -> Code | None:
        if request.method != "POST" or request.url.path != wire.ENDPOINT_PATH:
            return Code.METHOD_NOT_SUPPORTED
        if not request.headers.get("content-type", "").startswith("application/json"):
            return Code.MEDIA_TYPE_NOT_ACCEPTABLE
        client_id = request.headers.get("client-id")
        time = request.headers.get("request-time")
        header = request.headers.get("signature")
        if not client_id or not time or not header:
            return Code.REQUEST_PARAM_ILLEGAL
        if client_id != self.client_id:
            return Code.INVALID_CLIENT
        parsed = wire.parse_signature_header(header)
        content = wire.signing_content("POST", request.url.path, client_id, time, body)
        if not wire.verify(content, parsed.signature, self.merchant_public_key):
            return Code.INVALID_SIGNATURE
        return None

    def answer(self, result: wire.SyncResult) -> httpx.Response:
        return signed_answer(
            result.to_bytes(), self.platform_private_key, self.client_id, self.clock()
        )


def signed_answer(
    body: bytes, key: rsa.RSAPrivateKey, client_id: str, now: datetime
) -> httpx.Response:
    response_time = wire.format_response_time(now)
    content = wire.signing_content("POST", wire.ENDPOINT_PATH, client_id, response_time, body)
    headers = {
        "client-id": client_id,
        "response-time": response_time,
        "signature": wire.format_signature_header(wire.sign(content, key), 1),
        "content-type": "application/json; charset=UTF-8",
    }
    return httpx.Response(200, headers=headers, content=body)


def _request_id(body: bytes) -> str | None:
    try:
        return wire.parse_sync_body(body).request_id
    except wire.BodyError:
        return None


class FakeClock:
    """A clock the test moves by hand; starts at a fixed aware instant."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
