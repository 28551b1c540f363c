"""The signed-API pipeline, written once for every signed API (SPEC §2):

route → gateway checks (shape, client and key, signature, Request-Time, rate limit) → the API's
handler → directory confirmation → rejection logging → answer signing, each step reported to
an observer (:mod:`asap_sync.service.observer`: metrics, traces).

Every answer is HTTP 200 with a signed JSON body, rejections included. The gateway decides with
the process's cached directory; an answer stands once the directory version it was decided with
is confirmed: by the handler's own reads (a ledger read checks the version), or else by a read
of the version. If the directory changed meanwhile, the request is decided again on fresh data.

A handler receives a :class:`Verified` request and returns (awaitably) a :class:`Handled`
outcome, or None when its reads found the directory moved; it raises :class:`Rejected` for a
rejection decided before its reads. Adding a signed API is adding a route: the pipeline does not
change.

Everything runs on the event loop, as a lean endpoint would: the checks, the RSA verification
and signing are CPU work that a thread would only hand back and forth under the GIL. What waits
on the database goes elsewhere: a handler's writes to its writer thread (the ingestor's batch),
and the rare blocking reads and writes of the pipeline itself (a directory read after a change,
the version check of an early rejection, the rejection log) to a small thread pool.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync.http.failure_log import FailureLog
from asap_sync.http.framing import echoed_client_id
from asap_sync.http.gateway import (
    RawRequest,
    Rejected,
    check_shape,
    check_signature,
    check_time,
    client_key,
)
from asap_sync.http.rate_limit import RateLimiter
from asap_sync.http.refusals import Refusals
from asap_sync.http.tracing import join_caller_trace
from asap_sync.service.directory import Directory, DirectorySnapshot, PlatformKey
from asap_sync.service.ingest import InFlight
from asap_sync.service.key_use import UNTRACKED, KeyUse
from asap_sync.service.observer import NULL_OBSERVER, Observer
from asap_sync.service.ports import Rejection, RejectionSink
from asap_sync.wire import (
    ResultCode,
    SyncResult,
    format_response_time,
    format_signature_header,
    load_private_key,
    sign,
    signing_content,
)

log = logging.getLogger("asap_sync.sync")
failures = FailureLog(log)

MAX_FRESH_ATTEMPTS = 3  # decisions on fresh data after the cached one was overtaken

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """The signed answer: lower-case headers and the exact body bytes that were signed."""

    headers: list[tuple[str, str]]
    body: bytes
    result: SyncResult


@dataclass(frozen=True, kw_only=True, slots=True)
class Verified:
    """A request that passed the gateway: signed by an active key of an active client."""

    request: RawRequest
    client_id: str
    key_version: int
    now: datetime
    directory_version: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Handled:
    """What a handler decided. ``confirmed``: its reads saw the directory at the version the
    request was verified with. ``rejected``: what to log when the result is a rejection."""

    result: SyncResult
    confirmed: bool
    rejected: Rejected | None = None
    request_id: str | None = None


class Handler(Protocol):
    """One signed API; ``api`` names it to the observer."""

    api: str

    def __call__(self, verified: Verified) -> Awaitable[Handled | None]: ...


class SigningKeyProvider(Protocol):
    """The platform's signing key, loaded when the worker starts."""

    def current(self) -> PlatformKey | None:
        """The key for this answer (None: there is none yet); may read the database."""
        ...

    def choose(self, from_directory: PlatformKey | None) -> PlatformKey | None:
        """The key for this answer, given the directory's newest key (no lookup)."""
        ...

    def held(self) -> PlatformKey:
        """The key held in memory, without a lookup (for throttled answers)."""
        ...


@lru_cache(maxsize=8)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    return load_private_key(pem)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Outcome:
    result: SyncResult
    rejected: Rejected | None
    request_id: str | None
    authenticated: bool = False  # the signature verified


@dataclass(kw_only=True, slots=True)
class _Seen:
    """What one decision of a request got to: the snapshot the gateway used, the signature."""

    snapshot: DirectorySnapshot | None = None
    authenticated: bool = False


class SignedApis:
    """Answers every signed API of the route table; ``handle`` runs on the event loop."""

    def __init__(
        self,
        *,
        routes: Mapping[str, Handler],
        directory: Directory,
        signing_key: SigningKeyProvider,
        rejections: RejectionSink,
        clock: Callable[[], datetime],
        time_window: timedelta,
        body_limit: int,
        rate_limiter: RateLimiter | None = None,
        refusals: Refusals | None = None,
        observer: Observer = NULL_OBSERVER,
        threads: int = 4,
        key_use: KeyUse = UNTRACKED,
        in_flight: InFlight | None = None,
    ) -> None:
        """``rejections`` keeps the rejections of authenticated callers; ``refusals`` (when
        given) counts the others, writes them once an interval and throttles a source or a
        Client-Id past its failure budget; ``threads``: the pool of the blocking steps."""
        self.routes, self.directory, self.signing_key = dict(routes), directory, signing_key
        self.rejections, self.clock = rejections, clock
        self.time_window, self.body_limit = time_window, body_limit
        self.rate_limiter, self.refusals, self.observer = rate_limiter, refusals, observer
        self.key_use = key_use
        self.in_flight = in_flight or InFlight()
        self._throttled_signature: tuple[tuple[str, ...], str] = ((), "")
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sync")

    def close(self) -> None:
        """Let the blocking steps' threads go (what runs there finishes)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def blocking(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` in the pool of blocking steps (this worker's one pool: the pipeline's
        and the probes'), in the calling request's context (its id, its trace)."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, context.run, work, *args)

    def handle_blocking(self, request: RawRequest) -> Answer:
        """:meth:`handle` for a caller without an event loop (tests, in-process tools)."""
        return asyncio.run(self.handle(request))

    async def handle(self, request: RawRequest) -> Answer:
        """Apply every step in order; raises only when the answer cannot be signed."""
        handler = self.routes.get(request.path)
        api = handler.api if handler is not None else request.path
        self.in_flight.enter()
        try:
            with join_caller_trace(request.headers), self.observer.step("request", api=api):
                return await self._handle(request, api)
        finally:
            self.in_flight.leave()

    async def _handle(self, request: RawRequest, api: str) -> Answer:
        started = time.perf_counter()
        now = self.clock()
        client_id = echoed_client_id(request.headers.get("client-id", ""))
        seen = _Seen()
        outcome = await self._decide(request, client_id, now, seen, fresh=False)
        for _ in range(MAX_FRESH_ATTEMPTS):
            if outcome is not None:
                break
            self.observer.redecided(reason="directory_changed")
            seen = _Seen()
            outcome = await self._decide(request, client_id, now, seen, fresh=True)
        if outcome is None:  # the directory kept changing under every attempt
            log.error("clients or keys changed under every attempt (client %s)", client_id)
            rejected = Rejected(ResultCode.SYSTEM_ERROR, "clients or keys kept changing")
            outcome = _Outcome(result=_system_error(), rejected=rejected, request_id=None)
        if outcome.rejected is not None:
            await self.blocking(self._record, now, client_id, outcome, api, request.source)
        if seen.snapshot is not None:
            platform = self.signing_key.choose(seen.snapshot.platform)
        else:
            platform = await self.blocking(self.signing_key.current)
        answer = self._sign(request, client_id, outcome.result, platform)
        elapsed = time.perf_counter() - started
        code = outcome.result.error_code or "SUCCESS"
        self.observer.answered(api=api, code=code, seconds=elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s client=%s requestId=%s code=%s %.1fms",
                api,
                client_id or "-",
                outcome.request_id or "-",
                code,
                elapsed * 1000,
            )
        return answer

    async def _decide(
        self, request: RawRequest, client_id: str, now: datetime, seen: _Seen, *, fresh: bool
    ) -> _Outcome | None:
        """The outcome, or None when the directory changed under a cached decision."""
        try:
            handled = await self._process(request, client_id, now, fresh, seen)
        except Rejected as exc:
            handled = Handled(result=_failed(exc), confirmed=False, rejected=exc)
        except Exception:
            failures.exception("decide", "unexpected failure; answering SYSTEM_ERROR")
            rejected = Rejected(ResultCode.SYSTEM_ERROR, "see the server log")
            handled = Handled(result=_system_error(), confirmed=False, rejected=rejected)
        if handled is None:
            return None
        snapshot = seen.snapshot
        confirmed = handled.confirmed or (snapshot is not None and snapshot.confirmed)
        if not confirmed and not await self.blocking(self._confirmed, snapshot, fresh):
            return None
        return _Outcome(
            result=handled.result,
            rejected=handled.rejected,
            request_id=handled.request_id,
            authenticated=seen.authenticated,
        )

    async def _process(
        self,
        request: RawRequest,
        client_id: str,
        now: datetime,
        fresh: bool,
        seen: _Seen,
    ) -> Handled | None:
        check_shape(request, self.body_limit)
        handler = self.routes.get(request.path)
        if handler is None:
            raise Rejected(ResultCode.REQUEST_PARAM_ILLEGAL, f"no signed API at {request.path}")
        snapshot = None if fresh else self.directory.cached(client_id)
        if snapshot is None:
            snapshot = await self.blocking(partial(self.directory.snapshot, client_id, fresh=True))
        seen.snapshot = snapshot
        key = client_key(snapshot, client_id, request.headers["signature"])
        with self.observer.step("verify"):
            check_signature(request, client_id, key)
        seen.authenticated = True
        self.key_use.used(client_id, key.version, now)
        check_time(request.headers["request-time"], now, self.time_window)
        if self.rate_limiter is not None and not self.rate_limiter.allow(client_id):
            raise Rejected(
                ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT,
                f"client {client_id} is over its rate limit; retry later with the same requestId",
            )
        return await handler(
            Verified(
                request=request,
                client_id=client_id,
                key_version=key.version,
                now=now,
                directory_version=snapshot.version,
            )
        )

    def _confirmed(self, seen: DirectorySnapshot | None, fresh: bool) -> bool:
        """Whether the directory still stands at the version the answer was decided with
        (when the database cannot tell, the answer stands: it is signed with the held key)."""
        try:
            snapshot = seen or self.directory.snapshot(None, fresh=fresh)
            return snapshot.confirmed or not self.directory.changed_since(snapshot.version)
        except Exception:
            self.observer.database_error(operation="directory_check")
            failures.exception("confirm", "could not confirm the directory version; from cache")
            return True

    def _record(
        self, now: datetime, client_id: str, outcome: _Outcome, api: str, source: str
    ) -> None:
        rejected = outcome.rejected
        assert rejected is not None
        rejection = Rejection(
            received_at=now,
            code=rejected.code.value,
            context=rejected.context,
            client_id=client_id or None,
            merchant_id=rejected.merchant,
            request_id=rejected.request_id,
            out_trans_id=rejected.out_trans_id,
            source=source,
        )
        unauthenticated = not outcome.authenticated and rejected.code != ResultCode.SYSTEM_ERROR
        try:
            if self.refusals is not None and unauthenticated:
                self.refusals.failed(source, rejection)  # the first few written, the rest counted
            else:
                self.rejections.record(rejection)
        except Exception:
            self.observer.database_error(operation="rejection_log")
            failures.exception("record", "could not record a rejection (%s)", rejected.code.value)
            return
        self.observer.rejection_recorded(api=api, code=rejected.code.value)

    def _refused(self, refusals: Refusals, source: str, refusal: Rejection) -> None:
        try:
            refusals.failed(source, refusal)
        except Exception:  # the throttled answer is given all the same
            self.observer.database_error(operation="rejection_log")
            failures.exception("refused", "could not record a refusal (%s)", refusal.code)

    def over_budget(self, request: RawRequest) -> bool:
        """True when the request's source or claimed Client-Id has used up its failures."""
        if self.refusals is None:
            return False
        client_id = echoed_client_id(request.headers.get("client-id", ""))
        return self.refusals.over_budget(request.source, client_id)

    async def throttled(self, request: RawRequest) -> Answer:
        """The answer to a caller past its failure budget: the same body and no Client-Id for
        a whole second, so it is signed once a second whatever the flood. No lookup and no
        verification: cheap enough to give on the event loop. The refusal is counted in the
        pool of blocking steps (the first few of an interval are written there)."""
        now = self.clock()
        platform = self.signing_key.held()
        result = SyncResult.failed(
            ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT,
            "too many failed requests from this source or for this Client-Id; retry later",
        )
        body, response_time = result.to_bytes(), format_response_time(self.clock())
        key = (request.method, request.path, response_time, str(platform.key_version))
        cached_key, signature = self._throttled_signature
        if cached_key != key:
            content = signing_content(request.method, request.path, "", response_time, body)
            signature = sign(content, _private_key(platform.private_key_pem))
            self._throttled_signature = (key, signature)
        if self.refusals is not None:
            refusal = Rejection(
                received_at=now, code=result.error_code or "", context=result.error_context or ""
            )
            await self.blocking(self._refused, self.refusals, request.source, refusal)
        headers = [
            ("client-id", ""),
            ("response-time", response_time),
            ("content-type", "application/json; charset=UTF-8"),
            ("signature", format_signature_header(signature, platform.key_version)),
        ]
        return Answer(headers=headers, body=body, result=result)

    def _sign(
        self,
        request: RawRequest,
        client_id: str,
        result: SyncResult,
        platform: PlatformKey | None,
    ) -> Answer:
        if platform is None:
            raise RuntimeError("no active platform key: run `asap-sync init`")
        body = result.to_bytes()
        response_time = format_response_time(self.clock())
        content = signing_content(request.method, request.path, client_id, response_time, body)
        with self.observer.step("sign"):
            signature = sign(content, _private_key(platform.private_key_pem))
        headers = [
            ("client-id", client_id),
            ("response-time", response_time),
            ("content-type", "application/json; charset=UTF-8"),
            ("signature", format_signature_header(signature, platform.key_version)),
        ]
        return Answer(headers=headers, body=body, result=result)


def _failed(rejected: Rejected) -> SyncResult:
    return SyncResult.failed(rejected.code, rejected.context)


def _system_error() -> SyncResult:
    """What a caller learns of a failure of ours: the code and its standard message."""
    return SyncResult.failed(ResultCode.SYSTEM_ERROR)
