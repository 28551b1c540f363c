"""The ASGI application. Kept framework-free: the endpoint needs the raw body bytes, the exact
request target and lower-case response headers, and nothing a framework would add."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from asap_sync.http.gateway import RawRequest
from asap_sync.http.pipeline import Answer, SignedApis

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("asap_sync.http")


def request_path(scope: Scope) -> str:
    """The path, also for an absolute-form target (``POST http://host/amsin/... HTTP/1.1``)."""
    path = str(scope.get("path", ""))
    if path.startswith(("http://", "https://")):
        path = urlsplit(path).path or "/"
    return path


class AsgiApp:
    """Routes the signed APIs and a health check; everything else is 404."""

    def __init__(
        self,
        apis: SignedApis,
        *,
        body_limit: int,
        threads: int,
        health: Callable[[], bool] | None = None,
    ) -> None:
        self.apis, self.body_limit = apis, body_limit
        self.health = health
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sync")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = request_path(scope)
        if path in self.apis.routes:
            await self._signed(scope, path, receive, send)
        elif path == "/healthz":
            await self._health(send)
        else:
            await _send_json(send, 404, {"error": f"no such path: {path}"})

    async def _signed(self, scope: Scope, path: str, receive: Receive, send: Send) -> None:
        body, too_large = await _read_body(receive, self.body_limit)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = RawRequest(
            method=scope["method"],
            path=path,
            headers=headers,
            body=body,
            body_too_large=too_large,
        )
        loop = asyncio.get_running_loop()
        try:
            answer: Answer = await loop.run_in_executor(self._pool, self.apis.handle, request)
        except Exception:
            log.exception("could not answer a sync request")
            await _send_json(send, 500, {"error": "the platform cannot sign answers right now"})
            return
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        raw_headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _health(self, send: Send) -> None:
        loop = asyncio.get_running_loop()
        ok = True
        if self.health is not None:
            try:
                ok = await loop.run_in_executor(self._pool, self.health)
            except Exception:
                ok = False
        await _send_json(send, 200 if ok else 503, {"status": "ok" if ok else "unavailable"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size, too_large = 0, False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            too_large = True
        elif chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return (b"" if too_large else b"".join(chunks)), too_large


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
