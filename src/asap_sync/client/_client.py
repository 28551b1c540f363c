"""The merchant SDK clients: :class:`Client` (blocking) and :class:`AsyncClient`."""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import TracebackType

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync import wire
from asap_sync.client._builder import Transaction
from asap_sync.client._errors import SyncError, TransportError
from asap_sync.client._protocol import (
    AnswerCheck,
    Clock,
    Credentials,
    Random,
    RetryPolicy,
    SyncResponse,
    local_now,
    outcome,
)

DEFAULT_TIMEOUT = 10.0
DEFAULT_RESPONSE_WINDOW = timedelta(minutes=15)


class _BaseClient:
    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        private_key: str | bytes | rsa.RSAPrivateKey,
        platform_public_key: str | bytes | rsa.RSAPublicKey,
        key_version: int | str = 1,
        retry: RetryPolicy | None = None,
        clock: Clock = local_now,
        random: Random = _random.random,
        response_time_window: timedelta | None = DEFAULT_RESPONSE_WINDOW,
    ) -> None:
        self.credentials = Credentials.load(
            client_id=client_id,
            private_key=private_key,
            platform_public_key=platform_public_key,
            key_version=key_version,
        )
        self.url = base_url.rstrip("/") + wire.ENDPOINT_PATH
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._random = random
        self._check = AnswerCheck(
            credentials=self.credentials,
            clock=clock,
            response_time_window=response_time_window,
        )

    def _prepare(
        self, transaction: Transaction | wire.SyncRequest
    ) -> tuple[wire.SyncRequest, bytes]:
        request = (
            transaction if isinstance(transaction, wire.SyncRequest) else transaction.to_request()
        )
        return request, wire.dump_sync_body(request)

    def _headers(self, body: bytes) -> dict[str, str]:
        return self.credentials.signed_headers(body, wire.format_response_time(self._clock()))

    def _judge(
        self, request: wire.SyncRequest, response: httpx.Response, attempt: int
    ) -> SyncResponse:
        body = response.content
        result = self._check.result(response.status_code, response.headers, body)
        return outcome(
            result,
            request,
            attempts=attempt,
            response_time=response.headers.get("response-time", ""),
            body=body,
        )

    def _give_up(self, exc: SyncError, request: wire.SyncRequest, attempt: int) -> bool:
        exc.request_id = request.request_id
        exc.attempts = attempt
        return not exc.retryable or attempt >= self.retry.max_attempts


class Client(_BaseClient):
    """Send transaction syncs to the platform; blocking, thread-safe.

    ``client = Client("https://asap.example.com", client_id="2110...", private_key=pem,
    platform_public_key=platform_pem)`` then ``client.sync(Transaction(...))``. Every answer's
    signature is verified; a rejection raises the :class:`SyncError` subclass of its code.
    Network failures, timeouts, ``SYSTEM_ERROR`` and ``REQUEST_TRAFFIC_EXCEED_LIMIT`` are
    retried under the same requestId and body, re-signed with a fresh Request-Time.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        private_key: str | bytes | rsa.RSAPrivateKey,
        platform_public_key: str | bytes | rsa.RSAPublicKey,
        key_version: int | str = 1,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = local_now,
        sleep: Callable[[float], None] = time.sleep,
        random: Random = _random.random,
        response_time_window: timedelta | None = DEFAULT_RESPONSE_WINDOW,
    ) -> None:
        super().__init__(
            base_url,
            client_id=client_id,
            private_key=private_key,
            platform_public_key=platform_public_key,
            key_version=key_version,
            retry=retry,
            clock=clock,
            random=random,
            response_time_window=response_time_window,
        )
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def sync(self, transaction: Transaction | wire.SyncRequest) -> SyncResponse:
        """Sign, send and verify one sync; returns the success or raises a :class:`SyncError`."""
        request, body = self._prepare(transaction)
        attempt = 1
        while True:
            try:
                return self._attempt(request, body, attempt)
            except SyncError as exc:
                if self._give_up(exc, request, attempt):
                    raise
            self._sleep(self.retry.delay(attempt, self._random))
            attempt += 1

    def _attempt(self, request: wire.SyncRequest, body: bytes, attempt: int) -> SyncResponse:
        try:
            response = self._http.post(self.url, content=body, headers=self._headers(body))
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return self._judge(request, response, attempt)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """The asyncio twin of :class:`Client`: same options, ``await client.sync(...)``."""

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        private_key: str | bytes | rsa.RSAPrivateKey,
        platform_public_key: str | bytes | rsa.RSAPublicKey,
        key_version: int | str = 1,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = local_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Random = _random.random,
        response_time_window: timedelta | None = DEFAULT_RESPONSE_WINDOW,
    ) -> None:
        super().__init__(
            base_url,
            client_id=client_id,
            private_key=private_key,
            platform_public_key=platform_public_key,
            key_version=key_version,
            retry=retry,
            clock=clock,
            random=random,
            response_time_window=response_time_window,
        )
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)

    async def sync(self, transaction: Transaction | wire.SyncRequest) -> SyncResponse:
        """Sign, send and verify one sync; returns the success or raises a :class:`SyncError`."""
        request, body = self._prepare(transaction)
        attempt = 1
        while True:
            try:
                return await self._attempt(request, body, attempt)
            except SyncError as exc:
                if self._give_up(exc, request, attempt):
                    raise
            await self._sleep(self.retry.delay(attempt, self._random))
            attempt += 1

    async def _attempt(self, request: wire.SyncRequest, body: bytes, attempt: int) -> SyncResponse:
        try:
            response = await self._http.post(self.url, content=body, headers=self._headers(body))
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return self._judge(request, response, attempt)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
