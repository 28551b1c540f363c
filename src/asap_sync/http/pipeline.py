"""The signed-API pipeline, written once for every signed API (SPEC §2):

route → gateway checks (shape, client and key, signature, Request-Time, rate limit) → the API's
handler → directory confirmation → rejection logging → answer signing → observer.

Every answer is HTTP 200 with a signed JSON body, rejections included. The gateway decides with
the process's cached directory; an answer stands once the directory version it was decided with
is confirmed: by the handler's own reads (a ledger read checks the version), or else by a read
of the version. If the directory changed meanwhile, the request is decided again on fresh data.

A handler receives a :class:`Verified` request and returns a :class:`Handled` outcome, or None
when its reads found the directory moved; it raises :class:`Rejected` for a rejection decided
before its reads. Adding a signed API is adding a route: the pipeline does not change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync.http.gateway import (
    RawRequest,
    Rejected,
    check_shape,
    check_signature,
    check_time,
    client_key,
)
from asap_sync.http.rate_limit import RateLimiter
from asap_sync.service.directory import Directory, DirectorySnapshot, PlatformKey
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

MAX_FRESH_ATTEMPTS = 3  # decisions on fresh data after the cached one was overtaken


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
    """One signed API."""

    def __call__(self, verified: Verified) -> Handled | None: ...


class SigningKeyProvider(Protocol):
    """The platform's current signing key (None: there is none yet)."""

    def current(self) -> PlatformKey | None: ...


class Observer(Protocol):
    """Told of every answer (metrics, logs)."""

    def answered(
        self, *, path: str, client_id: str, request_id: str | None, code: str, seconds: float
    ) -> None: ...


class LogObserver:
    """The default observer: one log line per answer."""

    def answered(
        self, *, path: str, client_id: str, request_id: str | None, code: str, seconds: float
    ) -> None:
        log.info(
            "%s client=%s requestId=%s code=%s %.1fms",
            path,
            client_id or "-",
            request_id or "-",
            code,
            seconds * 1000,
        )


@lru_cache(maxsize=8)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    return load_private_key(pem)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Outcome:
    result: SyncResult
    rejected: Rejected | None
    request_id: str | None


class SignedApis:
    """Answers every signed API of the route table; run ``handle`` in a worker thread."""

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
        observer: Observer | None = None,
    ) -> None:
        self.routes, self.directory, self.signing_key = dict(routes), directory, signing_key
        self.rejections, self.clock = rejections, clock
        self.time_window, self.body_limit = time_window, body_limit
        self.rate_limiter, self.observer = rate_limiter, observer or LogObserver()

    def handle(self, request: RawRequest) -> Answer:
        """Apply every step in order; raises only when the answer cannot be signed."""
        started = time.perf_counter()
        now = self.clock()
        client_id = request.headers.get("client-id", "")
        outcome = self._decide(request, client_id, now, fresh=False)
        for _ in range(MAX_FRESH_ATTEMPTS):
            if outcome is not None:
                break
            outcome = self._decide(request, client_id, now, fresh=True)
        if outcome is None:  # the directory kept changing under every attempt
            log.error("clients or keys changed under every attempt (client %s)", client_id)
            rejected = Rejected(ResultCode.SYSTEM_ERROR, "clients or keys kept changing")
            outcome = _Outcome(result=_system_error(), rejected=rejected, request_id=None)
        if outcome.rejected is not None:
            self._record(now, client_id, outcome.rejected)
        answer = self._sign(request, client_id, outcome.result)
        self.observer.answered(
            path=request.path,
            client_id=client_id,
            request_id=outcome.request_id,
            code=outcome.result.error_code or "SUCCESS",
            seconds=time.perf_counter() - started,
        )
        return answer

    def _decide(
        self, request: RawRequest, client_id: str, now: datetime, *, fresh: bool
    ) -> _Outcome | None:
        """The outcome, or None when the directory changed under a cached decision."""
        seen: list[DirectorySnapshot] = []  # the snapshot the gateway decided with, if any
        try:
            handled = self._process(request, client_id, now, fresh, seen)
        except Rejected as exc:
            handled = Handled(result=_failed(exc), confirmed=False, rejected=exc)
        except Exception:
            log.exception("unexpected failure; answering SYSTEM_ERROR (client %s)", client_id)
            rejected = Rejected(ResultCode.SYSTEM_ERROR, "see the server log")
            handled = Handled(result=_system_error(), confirmed=False, rejected=rejected)
        if handled is None or not (handled.confirmed or self._confirmed(seen, fresh)):
            return None
        return _Outcome(
            result=handled.result, rejected=handled.rejected, request_id=handled.request_id
        )

    def _process(
        self,
        request: RawRequest,
        client_id: str,
        now: datetime,
        fresh: bool,
        seen: list[DirectorySnapshot],
    ) -> Handled | None:
        check_shape(request, self.body_limit)
        handler = self.routes.get(request.path)
        if handler is None:
            raise Rejected(ResultCode.REQUEST_PARAM_ILLEGAL, f"no signed API at {request.path}")
        snapshot = self.directory.snapshot(client_id, fresh=fresh)
        seen.append(snapshot)
        key = client_key(snapshot, client_id, request.headers["signature"])
        check_signature(request, client_id, key)
        check_time(request.headers["request-time"], now, self.time_window)
        if self.rate_limiter is not None and not self.rate_limiter.allow(client_id):
            raise Rejected(
                ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT,
                f"client {client_id} is over its rate limit; retry later with the same requestId",
            )
        return handler(
            Verified(
                request=request,
                client_id=client_id,
                key_version=key.version,
                now=now,
                directory_version=snapshot.version,
            )
        )

    def _confirmed(self, seen: list[DirectorySnapshot], fresh: bool) -> bool:
        """Whether the directory still stands at the version the answer was decided with."""
        snapshot = seen[0] if seen else self.directory.snapshot(None, fresh=fresh)
        if snapshot.confirmed:
            return True
        try:
            return not self.directory.changed_since(snapshot.version)
        except Exception:
            log.exception("could not confirm the directory version; answering from cache")
            return True

    def _record(self, now: datetime, client_id: str, rejected: Rejected) -> None:
        try:
            self.rejections.record(
                Rejection(
                    received_at=now,
                    code=rejected.code.value,
                    context=rejected.context,
                    client_id=client_id or None,
                    merchant_id=rejected.merchant,
                    request_id=rejected.request_id,
                    out_trans_id=rejected.out_trans_id,
                )
            )
        except Exception:
            log.exception("could not record a rejection (%s)", rejected.code.value)

    def _sign(self, request: RawRequest, client_id: str, result: SyncResult) -> Answer:
        platform = self.signing_key.current()
        if platform is None:
            raise RuntimeError("no active platform key: run `asap-sync init`")
        body = result.to_bytes()
        response_time = format_response_time(self.clock())
        content = signing_content(request.method, request.path, client_id, response_time, body)
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
