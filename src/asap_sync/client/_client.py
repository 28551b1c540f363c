"""The merchant SDK clients: :class:`Client` (blocking) and :class:`AsyncClient`."""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping
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
    Outbound,
    Random,
    RetryPolicy,
    SyncResponse,
    local_now,
    outcome,
)

DEFAULT_TIMEOUT = 10.0
DEFAULT_RESPONSE_WINDOW = timedelta(minutes=15)
# A request signed ahead of time is sent as is while this fresh (the platform allows ±15 min).
PRESIGNED_MAX_AGE = timedelta(minutes=2)


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
        self._url = httpx.URL(self.url)  # parsed once, not per request
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._random = random
        self._check = AnswerCheck(
            credentials=self.credentials,
            clock=clock,
            response_time_window=response_time_window,
        )

    def _prepare(self, transaction: Transaction | wire.SyncRequest) -> Outbound:
        request = (
            transaction if isinstance(transaction, wire.SyncRequest) else transaction.to_request()
        )
        return Outbound(
            request_id=request.request_id,
            out_trans_id=request.out_trans_id,
            body=wire.dump_sync_body(request),
        )

    def _headers(self, outbound: Outbound, attempt: int) -> Mapping[str, str]:
        # Headers signed ahead serve the first attempt while fresh; a retry is always re-signed.
        signed_at = outbound.signed_at
        fresh = signed_at is not None and abs(self._clock() - signed_at) <= PRESIGNED_MAX_AGE
        if attempt == 1 and outbound.headers is not None and fresh:
            return outbound.headers
        now = wire.format_response_time(self._clock())
        return self.credentials.signed_headers(outbound.body, now)

    def _judge(self, outbound: Outbound, response: httpx.Response, attempt: int) -> SyncResponse:
        body = response.content
        result = self._check.result(response.status_code, response.headers, body)
        return outcome(
            result,
            request_id=outbound.request_id,
            out_trans_id=outbound.out_trans_id,
            attempts=attempt,
            response_time=response.headers.get("response-time", ""),
            body=body,
        )

    def _give_up(self, exc: SyncError, outbound: Outbound, attempt: int) -> bool:
        exc.request_id = outbound.request_id
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
        return self._deliver(self._prepare(transaction))

    def _deliver(self, outbound: Outbound) -> SyncResponse:
        attempt = 1
        while True:
            try:
                return self._attempt(outbound, attempt)
            except SyncError as exc:
                if self._give_up(exc, outbound, attempt):
                    raise
            self._sleep(self.retry.delay(attempt, self._random))
            attempt += 1

    def _attempt(self, outbound: Outbound, attempt: int) -> SyncResponse:
        headers = self._headers(outbound, attempt)
        try:
            response = self._http.post(self._url, content=outbound.body, headers=headers)
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return self._judge(outbound, response, attempt)

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
        outbound = self._prepare(transaction)
        attempt = 1
        while True:
            try:
                return await self._attempt(outbound, attempt)
            except SyncError as exc:
                if self._give_up(exc, outbound, attempt):
                    raise
            await self._sleep(self.retry.delay(attempt, self._random))
            attempt += 1

    async def _attempt(self, outbound: Outbound, attempt: int) -> SyncResponse:
        headers = self._headers(outbound, attempt)
        try:
            response = await self._http.post(self._url, content=outbound.body, headers=headers)
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return self._judge(outbound, response, attempt)

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
