"""The bare baseline: the least any implementation of the endpoint must do per request.

Read the body, take the one public key from a cache (no lookup), verify the RSA256 signature,
insert the raw request in its own transaction (same engine factory as the product, so the same
SQLite pragmas, ``BEGIN IMMEDIATE`` locking and PostgreSQL pool), sign a success answer with an
RSA-2048 key and answer 200. No gateway checks, no parsing, no business rules.

Run by uvicorn as a factory, like the product, on the same worker threads model::

    BENCH_DATABASE_URL=... BENCH_KEYS_FILE=keys.json \\
        uvicorn bench.baseline_app:create_app --factory --workers 2
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, String, Table, insert

from asap_sync.storage.engine import make_engine
from asap_sync.wire import (
    format_signature_header,
    load_private_key,
    load_public_key,
    sign,
    signing_content,
    verify,
)

Message = MutableMapping[str, Any]

THREADS = 16  # as the product's default request threads per worker
ANSWER = b'{"success":true,"invokeResult":"SUCCESS"}'
REFUSED = b'{"success":false,"invokeResult":"FAILED","errorCode":"INVALID_SIGNATURE"}'

metadata = MetaData()
baseline_requests = Table(
    "bench_baseline_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False),
    Column("request_time", String(64), nullable=False),
    Column("signature", String(1024), nullable=False),
    Column("body", LargeBinary, nullable=False),
)


class BaselineApp:
    """Verify, insert, sign; everything else a real endpoint does is left out on purpose."""

    def __init__(
        self, engine: Engine, public_key: rsa.RSAPublicKey, private_key: rsa.RSAPrivateKey
    ) -> None:
        self.engine, self.public_key, self.private_key = engine, public_key, private_key
        self._pool = ThreadPoolExecutor(max_workers=THREADS)
        self._insert = insert(baseline_requests)

    async def __call__(
        self, scope: Message, receive: Callable[[], Awaitable[Message]], send: Any
    ) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        loop = asyncio.get_running_loop()
        method, path = scope["method"], scope["path"]
        body, answer_headers = await loop.run_in_executor(
            self._pool, self.handle, method, path, headers, b"".join(chunks)
        )
        await send({"type": "http.response.start", "status": 200, "headers": answer_headers})
        await send({"type": "http.response.body", "body": body})

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        client_id, request_time = headers.get("client-id", ""), headers.get("request-time", "")
        signature = headers.get("signature", "")
        value = signature.rpartition("signature=")[2]
        content = signing_content(method, path, client_id, request_time, body)
        answer = REFUSED
        if verify(content, unquote(value), self.public_key):
            with self.engine.begin() as conn:
                conn.execute(
                    self._insert,
                    {
                        "client_id": client_id,
                        "request_time": request_time,
                        "signature": signature,
                        "body": body,
                    },
                )
            answer = ANSWER
        response_time = datetime.now(UTC).isoformat(timespec="seconds")
        signed = sign(
            signing_content(method, path, client_id, response_time, answer), self.private_key
        )
        return answer, [
            (b"client-id", client_id.encode("latin-1")),
            (b"response-time", response_time.encode()),
            (b"content-type", b"application/json; charset=UTF-8"),
            (b"signature", format_signature_header(signed, 1).encode()),
            (b"content-length", str(len(answer)).encode()),
        ]


def create_app() -> BaselineApp:
    """Factory for uvicorn: ``BENCH_DATABASE_URL`` and ``BENCH_KEYS_FILE`` (JSON with
    ``client_public_key`` and ``platform_private_key``, PEM)."""
    keys = json.loads(Path(os.environ["BENCH_KEYS_FILE"]).read_text())
    engine = make_engine(os.environ["BENCH_DATABASE_URL"], pool_size=THREADS)
    return BaselineApp(
        engine,
        load_public_key(keys["client_public_key"]),
        load_private_key(keys["platform_private_key"]),
    )
