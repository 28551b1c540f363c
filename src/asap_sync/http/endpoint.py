"""The externalInfoSync endpoint: raw request → gateway checks → parse → use case → signed answer.

Every answer is HTTP 200 with a signed JSON body, rejections included (SPEC §2).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync.domain.errors import RuleViolation
from asap_sync.http.commands import to_command
from asap_sync.http.rate_limit import RateLimiter
from asap_sync.service.accept_sync import AcceptPolicy, accept_sync
from asap_sync.service.ports import SignedRequest, UnitOfWork
from asap_sync.storage.gateway import GatewayStore, PlatformKey, Rejection
from asap_sync.wire import (
    BodyError,
    KeyFormatError,
    RequestTimeError,
    ResultCode,
    SignatureHeaderError,
    SyncResult,
    format_response_time,
    format_signature_header,
    load_private_key,
    load_public_key,
    parse_request_time,
    parse_signature_header,
    sign,
    signing_content,
    verify,
    within_window,
)
from asap_sync.wire.messages import parse_sync_body

log = logging.getLogger("asap_sync.sync")

JSON_TYPES = ("application/json",)


@dataclass(frozen=True, kw_only=True, slots=True)
class RawRequest:
    """What the HTTP shell hands over: method, path, lower-case headers, body bytes."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    body_too_large: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """The signed answer: lower-case headers and the exact body bytes that were signed."""

    headers: list[tuple[str, str]]
    body: bytes
    result: SyncResult


class Rejected(Exception):
    """A gateway or body rejection before the use case runs."""

    def __init__(
        self,
        code: ResultCode,
        context: str,
        *,
        merchant: str | None = None,
        request_id: str | None = None,
        out_trans_id: str | None = None,
    ) -> None:
        super().__init__(context)
        self.code, self.context = code, context
        self.merchant, self.request_id, self.out_trans_id = merchant, request_id, out_trans_id


@dataclass(slots=True)
class _Lookup:
    """The platform key read with the client's keys, kept to sign this request's answer."""

    done: bool = False
    platform: PlatformKey | None = None


@lru_cache(maxsize=1024)
def _public_key(pem: str) -> rsa.RSAPublicKey:
    return load_public_key(pem)


@lru_cache(maxsize=8)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    return load_private_key(pem)


class SyncEndpoint:
    """Handles one request synchronously (run it in a worker thread)."""

    def __init__(
        self,
        *,
        gateway: GatewayStore,
        uow_factory: Callable[[], UnitOfWork],
        clock: Callable[[], datetime],
        policy: AcceptPolicy,
        time_window: timedelta,
        body_limit: int,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.gateway, self.uow_factory, self.clock = gateway, uow_factory, clock
        self.policy, self.time_window, self.body_limit = policy, time_window, body_limit
        self.rate_limiter = rate_limiter

    def handle(self, request: RawRequest) -> Answer:
        """Apply every check in order; never raises."""
        started = time.perf_counter()
        now = self.clock()
        client_id = request.headers.get("client-id", "")
        lookup = _Lookup()
        try:
            result = self._process(request, client_id, now, lookup)
        except Rejected as rejected:
            result = SyncResult.failed(rejected.code, rejected.context)
            self._record(now, client_id, rejected)
        except Exception:
            log.exception("unexpected failure; answering SYSTEM_ERROR (client %s)", client_id)
            result = SyncResult.failed(ResultCode.SYSTEM_ERROR)
            self._record(now, client_id, Rejected(ResultCode.SYSTEM_ERROR, "see the server log"))
        answer = self._sign(request, client_id, result, lookup)
        log.info(
            "%s client=%s code=%s %.1fms",
            request.method,
            client_id or "-",
            result.error_code or "SUCCESS",
            (time.perf_counter() - started) * 1000,
        )
        return answer

    def _process(
        self, request: RawRequest, client_id: str, now: datetime, lookup: _Lookup
    ) -> SyncResult:
        key_version = self._gateway_checks(request, client_id, now, lookup)
        try:
            body = parse_sync_body(request.body)
        except BodyError as exc:
            raise Rejected(exc.code, exc.context) from exc
        command = to_command(body, client_id)
        signed = SignedRequest(
            client_id=client_id,
            key_version=key_version,
            method=request.method,
            path=request.path,
            request_time=request.headers["request-time"],
            signature=request.headers["signature"],
            headers=dict(request.headers),
            body=request.body,
            received_at=now,
        )
        try:
            accept_sync(self.uow_factory, command, signed, now=now, policy=self.policy)
        except RuleViolation as violation:
            raise Rejected(
                violation.code,
                violation.context,
                merchant=body.merchant_id,
                request_id=body.request_id,
                out_trans_id=body.out_trans_id,
            ) from violation
        return SyncResult.ok()

    def _gateway_checks(
        self, request: RawRequest, client_id: str, now: datetime, lookup: _Lookup
    ) -> int:
        """SPEC §2's gateway codes, in their order; returns the key version that verified."""
        illegal = ResultCode.REQUEST_PARAM_ILLEGAL
        if request.method != "POST":
            raise Rejected(ResultCode.METHOD_NOT_SUPPORTED, f"{request.method}: use POST")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in JSON_TYPES and not media.endswith("+json"):
            raise Rejected(
                ResultCode.MEDIA_TYPE_NOT_ACCEPTABLE,
                f"Content-Type {media or '(none)'}: send application/json; charset=UTF-8",
            )
        for header in ("Client-Id", "Signature", "Request-Time"):
            if not request.headers.get(header.lower(), "").strip():
                raise Rejected(illegal, f"header {header}: is required")
        if request.body_too_large:
            raise Rejected(illegal, f"body: larger than the limit of {self.body_limit} bytes")
        version, public_key = self._client_key(client_id, request.headers["signature"], lookup)
        self._check_signature(request, client_id, public_key)
        self._check_time(request.headers["request-time"], now)
        if self.rate_limiter is not None and not self.rate_limiter.allow(client_id):
            raise Rejected(
                ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT,
                f"client {client_id} is over its rate limit; retry later with the same requestId",
            )
        return version

    def _client_key(
        self, client_id: str, signature: str, lookup: _Lookup
    ) -> tuple[int, rsa.RSAPublicKey]:
        # One read for the client's keys and the platform key that will sign the answer.
        client, lookup.platform = self.gateway.lookup(client_id)
        lookup.done = True
        if client is None or not client.active:
            state = "unknown" if client is None else "disabled"
            raise Rejected(ResultCode.INVALID_CLIENT, f"Client-Id {client_id} is {state}")
        try:
            header = parse_signature_header(signature)
        except SignatureHeaderError as exc:
            raise Rejected(ResultCode.INVALID_SIGNATURE, f"header Signature: {exc}") from exc
        requested = header.key_version
        version = int(requested) if requested is not None and requested.isdigit() else None
        found = client.key(version)
        if found is None or (requested is not None and version is None):
            raise Rejected(
                ResultCode.KEY_NOT_FOUND,
                f"keyVersion {requested or '(newest)'} is not an active key of {client_id}",
            )
        try:
            return found[0], _public_key(found[1])
        except KeyFormatError as exc:
            raise RuntimeError(f"stored key {client_id}/{found[0]} is unreadable") from exc

    def _check_signature(
        self, request: RawRequest, client_id: str, public_key: rsa.RSAPublicKey
    ) -> None:
        header = parse_signature_header(request.headers["signature"])
        if not header.algorithm_supported:
            raise Rejected(
                ResultCode.INVALID_SIGNATURE,
                f"algorithm {header.algorithm}: only RSA256 (SHA256withRSA) is accepted",
            )
        content = signing_content(
            request.method,
            request.path,
            client_id,
            request.headers["request-time"],
            request.body,
        )
        if not verify(content, header.signature, public_key):
            raise Rejected(
                ResultCode.INVALID_SIGNATURE,
                "signature does not verify over '<METHOD> <PATH>\\n<Client-Id>.<Request-Time>."
                "<body>' with the registered key",
            )

    def _check_time(self, value: str, now: datetime) -> None:
        try:
            sent = parse_request_time(value)
        except RequestTimeError as exc:
            raise Rejected(ResultCode.REQUEST_PARAM_ILLEGAL, f"header Request-Time: {exc}") from exc
        if not within_window(sent, now, self.time_window):
            minutes = int(self.time_window.total_seconds() // 60)
            raise Rejected(
                ResultCode.REQUEST_PARAM_ILLEGAL,
                f"header Request-Time: {value} is more than {minutes} minutes from the "
                f"platform clock ({format_response_time(now)})",
            )

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
            log.exception("could not record a rejection (%s)", rejected.code.value)

    def _sign(
        self, request: RawRequest, client_id: str, result: SyncResult, lookup: _Lookup
    ) -> Answer:
        body = result.to_bytes()
        response_time = format_response_time(self.clock())
        headers = [
            ("client-id", client_id),
            ("response-time", response_time),
            ("content-type", "application/json; charset=UTF-8"),
        ]
        key = self._platform_key(lookup)
        content = signing_content(request.method, request.path, client_id, response_time, body)
        signature = sign(content, _private_key(key.private_key_pem))
        headers.append(("signature", format_signature_header(signature, key.key_version)))
        return Answer(headers=headers, body=body, result=result)

    def _platform_key(self, lookup: _Lookup) -> PlatformKey:
        key = lookup.platform if lookup.done else self.gateway.platform_key()
        if key is None:
            raise RuntimeError("no active platform key: run `asap-sync init`")
        return key
