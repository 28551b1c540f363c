"""The externalInfoSync endpoint: raw request → gateway checks → parse → use case → signed answer.

Every answer is HTTP 200 with a signed JSON body, rejections included (SPEC §2).

The gateway decides with a per-process cache of clients and keys; the answer stands only once
the directory version it decided with is confirmed: by the sync's own write transaction, or
(for an answer that never reached one) by a read. If clients or keys changed meanwhile, the
request is decided again on fresh data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync.domain.errors import RuleViolation
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
from asap_sync.service.accept_sync import AcceptPolicy, accept_sync, new_pay_fast_path
from asap_sync.service.observer import NULL_OBSERVER, Observer
from asap_sync.service.ports import SignedRequest, Writer
from asap_sync.service.sync_command import to_command
from asap_sync.storage.gateway import (
    DirectoryChanged,
    DirectorySnapshot,
    GatewayStore,
    PlatformKey,
    Rejection,
)
from asap_sync.storage.key_custody import PlatformKeys
from asap_sync.wire import (
    BodyError,
    ResultCode,
    SyncResult,
    format_response_time,
    format_signature_header,
    load_private_key,
    sign,
    signing_content,
)
from asap_sync.wire.messages import parse_sync_body

__all__ = ["Answer", "RawRequest", "Rejected", "SyncEndpoint"]

log = logging.getLogger("asap_sync.sync")

MAX_FRESH_ATTEMPTS = 3  # decisions on fresh data after the cached one was overtaken
API = "externalInfoSync"  # the API label of what this endpoint reports to its observer


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """The signed answer: lower-case headers and the exact body bytes that were signed."""

    headers: list[tuple[str, str]]
    body: bytes
    result: SyncResult


@dataclass(kw_only=True, slots=True)
class _Attempt:
    """One decision of a request: on cached or on fresh directory data."""

    fresh: bool
    snapshot: DirectorySnapshot | None = None
    confirmed: bool = False  # a committed write transaction saw the snapshot's version
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class _Decision:
    result: SyncResult
    rejected: Rejected | None
    platform: PlatformKey | None
    request_id: str | None


@lru_cache(maxsize=8)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    return load_private_key(pem)


class SyncEndpoint:
    """Handles one request synchronously (run it in a worker thread)."""

    def __init__(
        self,
        *,
        gateway: GatewayStore,
        writer: Writer,
        clock: Callable[[], datetime],
        policy: AcceptPolicy,
        time_window: timedelta,
        body_limit: int,
        platform_keys: PlatformKeys | None = None,
        rate_limiter: RateLimiter | None = None,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        """``writer`` runs the use case in write transactions that refuse to start when the
        directory is no longer at the version the gateway decided with."""
        self.gateway, self.writer, self.clock = gateway, writer, clock
        self.policy, self.time_window, self.body_limit = policy, time_window, body_limit
        self.rate_limiter, self.platform_keys = rate_limiter, platform_keys
        self.observer = observer

    def handle(self, request: RawRequest) -> Answer:
        """Apply every check in order; raises only when the answer cannot be signed."""
        with self.observer.step("request", api=API):
            return self._handle(request)

    def _handle(self, request: RawRequest) -> Answer:
        started = time.perf_counter()
        now = self.clock()
        client_id = echoed_client_id(request.headers.get("client-id", ""))
        decision = self._decide(request, client_id, now, fresh=False)
        for _ in range(MAX_FRESH_ATTEMPTS):
            if decision is not None:
                break
            self.observer.redecided(reason="directory_changed")
            decision = self._decide(request, client_id, now, fresh=True)
        if decision is None:  # the directory kept changing under every attempt
            decision = self._unsettled(client_id)
        if decision.rejected is not None:
            self._record(now, client_id, decision.rejected)
        answer = self._sign(request, client_id, decision.result, decision.platform)
        elapsed = time.perf_counter() - started
        self.observer.answered(
            api=API, code=decision.result.error_code or "SUCCESS", seconds=elapsed
        )
        log.info(
            "%s client=%s requestId=%s code=%s %.1fms",
            request.method,
            client_id or "-",
            decision.request_id or "-",
            decision.result.error_code or "SUCCESS",
            elapsed * 1000,
        )
        return answer

    def _decide(
        self, request: RawRequest, client_id: str, now: datetime, *, fresh: bool
    ) -> _Decision | None:
        """The outcome, or None when the directory changed under a cached decision."""
        attempt = _Attempt(fresh=fresh)
        rejected: Rejected | None = None
        try:
            result = self._process(request, client_id, now, attempt)
        except DirectoryChanged:
            return None
        except Rejected as exc:
            result, rejected = SyncResult.failed(exc.code, exc.context), exc
        except Exception:
            log.exception("unexpected failure; answering SYSTEM_ERROR (client %s)", client_id)
            result = SyncResult.failed(ResultCode.SYSTEM_ERROR)
            rejected = Rejected(ResultCode.SYSTEM_ERROR, "see the server log")
        snapshot = attempt.snapshot or self._platform_snapshot(fresh)
        if not (attempt.confirmed or snapshot.confirmed) and self._changed(snapshot):
            return None
        return _Decision(
            result=result,
            rejected=rejected,
            platform=snapshot.platform,
            request_id=attempt.request_id,
        )

    def _process(
        self, request: RawRequest, client_id: str, now: datetime, attempt: _Attempt
    ) -> SyncResult:
        check_shape(request, self.body_limit)
        attempt.snapshot = self.gateway.snapshot(client_id, fresh=attempt.fresh)
        key = client_key(attempt.snapshot, client_id, request.headers["signature"])
        with self.observer.step("verify"):
            check_signature(request, client_id, key)
        check_time(request.headers["request-time"], now, self.time_window)
        if self.rate_limiter is not None and not self.rate_limiter.allow(client_id):
            raise Rejected(
                ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT,
                f"client {client_id} is over its rate limit; retry later with the same requestId",
            )
        try:
            body = parse_sync_body(request.body)
        except BodyError as exc:
            raise Rejected(exc.code, exc.context) from exc
        attempt.request_id = body.request_id
        signed = SignedRequest(
            client_id=client_id,
            key_version=key.version,
            method=request.method,
            path=request.path,
            request_time=request.headers["request-time"],
            signature=request.headers["signature"],
            headers=dict(request.headers),
            body=request.body,
            received_at=now,
        )
        command = to_command(body, client_id)
        try:
            self.writer.run(
                attempt.snapshot.version,
                lambda units: accept_sync(units, command, signed, now=now, policy=self.policy),
                fast=new_pay_fast_path(command, signed, now=now, policy=self.policy),
            )
        except RuleViolation as violation:
            # Rejections are rare: they confirm the directory with a read of their own.
            raise Rejected(
                violation.code,
                violation.context,
                merchant=body.merchant_id,
                request_id=body.request_id,
                out_trans_id=body.out_trans_id,
            ) from violation
        attempt.confirmed = True
        return SyncResult.ok()

    def _unsettled(self, client_id: str) -> _Decision:
        log.error("clients or keys changed under every attempt (client %s)", client_id)
        return _Decision(
            result=SyncResult.failed(ResultCode.SYSTEM_ERROR),
            rejected=Rejected(ResultCode.SYSTEM_ERROR, "clients or keys kept changing"),
            platform=self._platform_snapshot(True).platform,
            request_id=None,
        )

    def _platform_snapshot(self, fresh: bool) -> DirectorySnapshot:
        """The platform key for an answer decided before any client was looked up."""
        try:
            return self.gateway.snapshot(None, fresh=fresh)
        except Exception:  # the database is down: the answer is signed with the held key
            return DirectorySnapshot(version=None, client=None, platform=None, confirmed=True)

    def _changed(self, snapshot: DirectorySnapshot) -> bool:
        try:
            return self.gateway.changed_since(snapshot.version)
        except Exception:
            self.observer.database_error(operation="directory_check")
            log.exception("could not confirm the directory version; answering from cache")
            return False

    def _record(self, now: datetime, client_id: str, rejected: Rejected) -> None:
        try:
            self.gateway.record_rejection(
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
            self.observer.database_error(operation="rejection_log")
            log.exception("could not record a rejection (%s)", rejected.code.value)
            return
        self.observer.rejection_recorded(api=API, code=rejected.code.value)

    def _sign(
        self,
        request: RawRequest,
        client_id: str,
        result: SyncResult,
        platform: PlatformKey | None,
    ) -> Answer:
        if self.platform_keys is not None:
            platform = self.platform_keys.choose(platform)
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
