"""The ASGI application. Kept framework-free: the endpoint needs the raw body bytes, the exact
request target and lower-case response headers, and nothing a framework would add."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from asap_sync.http.framing import declared_length, framing_error
from asap_sync.http.gateway import RawRequest
from asap_sync.http.openapi import openapi_document
from asap_sync.http.pipeline import Answer, SignedApis
from asap_sync.http.probes import READY_TIMEOUT_SECONDS, Check, run_checks
from asap_sync.logs import REQUEST_ID
from asap_sync.wire.echo import echoed

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("asap_sync.http")

# A caller's (or a proxy's) X-Request-Id is kept when it is this harmless; else one is made.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def new_request_id() -> str:
    """A fresh request id: 32 random hex digits."""
    return os.urandom(16).hex()


def request_path(scope: Scope) -> str:
    """The path, also for an absolute-form target (``POST http://host/amsin/... HTTP/1.1``)."""
    path = str(scope.get("path", ""))
    if path.startswith(("http://", "https://")):
        path = urlsplit(path).path or "/"
    return path


class AsgiApp:
    """Routes the signed APIs, the probes and the OpenAPI document; everything else is 404."""

    def __init__(
        self,
        apis: SignedApis,
        *,
        body_limit: int,
        health: Callable[[], bool] | None = None,
        readiness: Mapping[str, Check] | None = None,
        request_ids: Callable[[], str] = new_request_id,
        tarpit: float = 1.0,
    ) -> None:
        """``readiness``: the checks of ``/readyz``, in order (none: always ready); ``tarpit``:
        how long a caller past its failure budget waits for its answer."""
        self.apis, self.body_limit, self.tarpit = apis, body_limit, tarpit
        self.health, self.readiness = health, readiness or {}
        self._request_ids = request_ids
        self._openapi: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = self._request_id(scope)
        REQUEST_ID.set(request_id)  # this request's task has its own context
        send = _with_request_id(send, request_id)
        path = request_path(scope)
        if path in self.apis.routes:
            await self._signed(scope, path, receive, send)
        elif path == "/healthz":
            await self._health(send)
        elif path == "/livez":
            await _send_json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            await self._ready(send)
        elif path == "/openapi.json":
            await self._send_openapi(send)
        else:
            await _send_json(send, 404, {"error": f"no such path: {echoed(path)}"})

    def _request_id(self, scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name.lower() == b"x-request-id":
                text = str(value.decode("latin-1"))
                if _REQUEST_ID.fullmatch(text):
                    return text
        return self._request_ids()

    async def _signed(self, scope: Scope, path: str, receive: Receive, send: Send) -> None:
        body, too_large = await _read_body(receive, self.body_limit, scope["headers"])
        if body is None:
            return  # the client left (or the socket guard refused it) before its body arrived
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = RawRequest(
            method=scope["method"],
            path=path,
            headers=headers,
            body=body,
            body_too_large=too_large,
            framing_error=framing_error(scope),
            source=str((scope.get("client") or ("",))[0]),
        )
        try:
            if self.apis.over_budget(request):
                await asyncio.sleep(self.tarpit)  # a throttled caller waits; we do not work
                answer: Answer = await self.apis.throttled(request)
            else:
                answer = await self.apis.handle(request)
        except Exception:
            log.exception("could not answer a sync request")
            await _send_json(send, 500, {"error": "the platform cannot sign answers right now"})
            return
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        raw_headers.append((b"content-length", str(len(answer.body)).encode()))
        if too_large:  # the rest of the body is not read: the connection cannot be reused
            raw_headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _health(self, send: Send) -> None:
        ok = True
        if self.health is not None:
            try:
                ok = await self.apis.blocking(self.health)
            except Exception:
                ok = False
        await _send_json(send, 200 if ok else 503, {"status": "ok" if ok else "unavailable"})

    async def _ready(self, send: Send) -> None:
        try:
            ready, body = await asyncio.wait_for(
                self.apis.blocking(run_checks, self.readiness), READY_TIMEOUT_SECONDS
            )
        except TimeoutError:
            ready = False
            body = {
                "status": "unavailable",
                "checks": {"database": f"no answer within {READY_TIMEOUT_SECONDS:g} s"},
            }
        await _send_json(send, 200 if ready else 503, body)

    async def _send_openapi(self, send: Send) -> None:
        if self._openapi is None:
            self._openapi = json.dumps(openapi_document(), ensure_ascii=False).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self._openapi)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self._openapi})

    async def _flush_refusals(self) -> None:
        if self.apis.refusals is None:
            return
        try:
            await asyncio.to_thread(self.apis.refusals.flush)
        except Exception:
            log.exception("could not write the counted rejections at shutdown")

    async def _flush_key_use(self) -> None:
        try:
            await asyncio.to_thread(self.apis.key_use.flush)
        except Exception:
            log.exception("could not write the keys' last use at shutdown")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._flush_refusals()
                await self._flush_key_use()
                self.apis.close()  # the blocking steps' threads
                await send({"type": "lifespan.shutdown.complete"})
                return


def _with_request_id(send: Send, request_id: str) -> Send:
    """``send`` adding an ``x-request-id`` header to the response (outside what is signed)."""
    header = (b"x-request-id", request_id.encode("latin-1"))

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
        await send(message)

    return sending


async def _read_body(
    receive: Receive, limit: int, headers: list[tuple[bytes, bytes]]
) -> tuple[bytes | None, bool]:
    """The body, or None if the client left first; refused unread past ``limit``."""
    declared = declared_length(headers)
    if declared is not None and declared > limit:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
