"""The lean baseline: what a competent engineer would write by hand for this endpoint.

Everything runs on the event loop, no threads: read the body, verify the RSA256 signature over
``<METHOD> <PATH>\\n<Client-Id>.<Request-Time>.<body>`` with the one client public key held in
memory, take ``requestId`` out of the body (orjson), write the raw request with one
``INSERT … ON CONFLICT (client_id, request_id) DO NOTHING`` (a replay is answered SUCCESS
again), sign ``{"success":true,"invokeResult":"SUCCESS"}`` with an RSA-2048 key and answer 200
with the four response headers. No gateway checks, no business rules.

Storage: on PostgreSQL an async driver (asyncpg's pool, or psycopg's async connections), one
autocommit statement per request; on SQLite, ``sqlite3`` in autocommit with WAL and
``synchronous=FULL`` called straight from the loop (a write is a few hundred microseconds plus
its fsync; a thread hop would cost more than it saves).

Run by an ASGI server as a factory, like the product::

    BENCH_DATABASE_URL=... BENCH_KEYS_FILE=keys.json \\
        [BENCH_PG_DRIVER=asyncpg|psycopg] [BENCH_SQLITE_LOCK=flock|busy] \\
        uvicorn bench.baseline_app:create_app --factory --workers 2
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync.wire import (
    format_signature_header,
    load_private_key,
    load_public_key,
    sign,
    signing_content,
    verify,
)
from asap_sync.wire.signing import url_decode_signature

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TABLE = "bench_baseline_requests"
INSERT = (
    f"INSERT INTO {TABLE} (client_id, request_id, request_time, signature, body) "
    "VALUES ({}) ON CONFLICT (client_id, request_id) DO NOTHING"
)
POOL_SIZE = 16  # connections per worker: 32 client connections over 2 workers never wait
SUCCESS = b'{"success":true,"invokeResult":"SUCCESS"}'
BAD_SIGNATURE = b'{"success":false,"invokeResult":"FAILED","errorCode":"INVALID_SIGNATURE"}'
BAD_BODY = b'{"success":false,"invokeResult":"FAILED","errorCode":"PARAM_ILLEGAL"}'


class Store(Protocol):
    async def open(self) -> None: ...

    async def insert(self, row: tuple[str, str, str, str, bytes]) -> None: ...

    async def close(self) -> None: ...


class SqliteStore:
    """One autocommit connection per worker, used from the loop. The workers' writes queue on
    a file lock (``flock``), taken for the one statement: SQLite's own busy handler would
    sleep 1 to 100 ms between tries, with the loop blocked (``lock="busy"`` measures that)."""

    def __init__(self, path: str, lock: str = "flock") -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._sql = INSERT.format(", ".join("?" * 5))
        self._lock_fd = os.open(path + "-writelock", os.O_RDWR | os.O_CREAT, 0o600)
        self._flock = lock == "flock"

    async def open(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")  # the other worker may hold the write lock
        self._conn = conn

    async def insert(self, row: tuple[str, str, str, str, bytes]) -> None:
        assert self._conn is not None
        if not self._flock:
            self._conn.execute(self._sql, row)
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self._conn.execute(self._sql, row)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        os.close(self._lock_fd)


class AsyncpgStore:
    """asyncpg's pool; the statement is prepared once per connection by its cache. The one
    autocommit statement leaves no session state, so a connection goes back to the pool without
    the default reset query (one round trip per request saved)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: Any = None
        self._sql = INSERT.format("$1, $2, $3, $4, $5")

    async def open(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(
            self.url, min_size=POOL_SIZE, max_size=POOL_SIZE, reset=_keep_session
        )

    async def insert(self, row: tuple[str, str, str, str, bytes]) -> None:
        await self._pool.execute(self._sql, *row)

    async def close(self) -> None:
        await self._pool.close()


async def _keep_session(conn: Any) -> None:
    """asyncpg's pool reset hook: nothing to reset."""


class PsycopgStore:
    """psycopg's async connections in autocommit, handed out by a queue (a minimal pool);
    psycopg prepares the statement on a connection after its fifth use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        self._sql = INSERT.format("%s, %s, %s, %s, %s")

    async def open(self) -> None:
        import psycopg

        for _ in range(POOL_SIZE):
            self._idle.put_nowait(await psycopg.AsyncConnection.connect(self.url, autocommit=True))

    async def insert(self, row: tuple[str, str, str, str, bytes]) -> None:
        conn = await self._idle.get()
        try:
            await conn.execute(self._sql, row)
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().close()


class BaselineApp:
    """Verify, insert, sign; everything else a real endpoint does is left out on purpose."""

    def __init__(
        self, store: Store, public_key: rsa.RSAPublicKey, private_key: rsa.RSAPrivateKey
    ) -> None:
        self.store, self.public_key, self.private_key = store, public_key, private_key

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            if scope["path"] == "/healthz":
                await _answer(send, b"", [])
            else:
                await self._sync(scope, receive, send)

    async def _sync(self, scope: Message, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        client_id = request_time = signature = ""
        for name, value in scope["headers"]:
            if name == b"client-id":
                client_id = value.decode("latin-1")
            elif name == b"request-time":
                request_time = value.decode("latin-1")
            elif name == b"signature":
                signature = value.decode("latin-1")
        method, path = scope["method"], scope["path"]
        content = signing_content(method, path, client_id, request_time, body)
        answer = BAD_SIGNATURE
        if verify(
            content, url_decode_signature(signature.rpartition("signature=")[2]), self.public_key
        ):
            answer = await self._store(client_id, request_time, signature, body)
        response_time = datetime.now(UTC).isoformat(timespec="seconds")
        signed = sign(
            signing_content(method, path, client_id, response_time, answer), self.private_key
        )
        headers = [
            (b"client-id", client_id.encode("latin-1")),
            (b"response-time", response_time.encode()),
            (b"content-type", b"application/json; charset=UTF-8"),
            (b"signature", format_signature_header(signed, 1).encode()),
        ]
        await _answer(send, answer, headers)

    async def _store(self, client_id: str, request_time: str, signature: str, body: bytes) -> bytes:
        try:
            request_id = orjson.loads(body)["requestId"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return BAD_BODY
        if not isinstance(request_id, str) or not request_id:
            return BAD_BODY
        await self.store.insert((client_id, request_id, request_time, signature, body))
        return SUCCESS

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.store.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def _answer(send: Send, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def store_for(url: str, driver: str, sqlite_lock: str = "flock") -> Store:
    """The store for a ``sqlite:///path`` or ``postgresql://`` URL."""
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"), sqlite_lock)
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return AsyncpgStore(plain) if driver == "asyncpg" else PsycopgStore(plain)


def create_app() -> BaselineApp:
    """Factory for the ASGI server: ``BENCH_DATABASE_URL``, ``BENCH_KEYS_FILE`` (JSON with
    ``client_public_key`` and ``platform_private_key``, PEM), ``BENCH_PG_DRIVER`` and
    ``BENCH_SQLITE_LOCK``."""
    keys = json.loads(Path(os.environ["BENCH_KEYS_FILE"]).read_text())
    store = store_for(
        os.environ["BENCH_DATABASE_URL"],
        os.environ.get("BENCH_PG_DRIVER", "asyncpg"),
        os.environ.get("BENCH_SQLITE_LOCK", "flock"),
    )
    return BaselineApp(
        store,
        load_public_key(keys["client_public_key"]),
        load_private_key(keys["platform_private_key"]),
    )
