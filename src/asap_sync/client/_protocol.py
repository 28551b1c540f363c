"""The sans-I/O core shared by :class:`Client` and :class:`AsyncClient`.

Signing a request, reading and verifying an answer, and the retry policy live here, free of
any network call, so the sync and async clients are thin loops around the same rules.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync import wire
from asap_sync.client._errors import (
    MalformedResponseError,
    ResponseSignatureError,
    TransportError,
    rejection_for,
)

METHOD = "POST"
CONTENT_TYPE = "application/json; charset=UTF-8"
# Statuses where a proxy or load balancer, not the platform, answered and a retry may pass.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

Clock = Callable[[], datetime]
Random = Callable[[], float]


def local_now() -> datetime:
    """The current time, timezone-aware in the machine's local offset."""
    return datetime.now().astimezone()


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """Capped, jittered exponential backoff.

    Attempt ``n`` (1-based) that failed retryably waits ``d/2 + random()*d/2`` seconds before
    the next, where ``d = min(max_delay, initial_delay * 2**(n-1))``. ``max_attempts`` counts
    the first try; ``RetryPolicy(max_attempts=1)`` never retries.
    """

    max_attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempt: int, random: Random = _random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.max_delay, self.initial_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + random() * ceiling / 2


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncResponse:
    """A verified success: the platform holds the transaction under ``request_id``."""

    request_id: str
    out_trans_id: str
    attempts: int
    response_time: str
    body: bytes

    @property
    def code(self) -> str:
        """Always ``"SUCCESS"``; rejections raise instead."""
        return wire.ResultCode.SUCCESS.value

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (wire-style names)."""
        return {
            "code": self.code,
            "requestId": self.request_id,
            "outTransId": self.out_trans_id,
            "attempts": self.attempts,
            "responseTime": self.response_time,
            "verified": True,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Outbound:
    """A serialised request ready to go: its ids, its body and, once signed, its headers.

    ``signed_at`` is the clock reading behind the headers' Request-Time, so a request signed
    ahead of time (by the bulk sender's workers) is re-signed if it waited too long.
    """

    request_id: str
    out_trans_id: str
    body: bytes
    headers: Mapping[str, str] | None = None
    signed_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Credentials:
    """Who we are and whom we trust: the loaded keys behind a client."""

    client_id: str
    private_key: rsa.RSAPrivateKey
    platform_public_key: rsa.RSAPublicKey
    key_version: str

    @classmethod
    def load(
        cls,
        *,
        client_id: str,
        private_key: str | bytes | rsa.RSAPrivateKey,
        platform_public_key: str | bytes | rsa.RSAPublicKey,
        key_version: int | str,
    ) -> Credentials:
        """Keys as PEM or bare base64 (PKCS#8 or PKCS#1), or already loaded."""
        if not client_id:
            raise ValueError("client_id must not be empty")
        if not isinstance(private_key, rsa.RSAPrivateKey):
            private_key = wire.load_private_key(private_key)
        if not isinstance(platform_public_key, rsa.RSAPublicKey):
            platform_public_key = wire.load_public_key(platform_public_key)
        return cls(
            client_id=client_id,
            private_key=private_key,
            platform_public_key=platform_public_key,
            key_version=str(key_version),
        )

    def signed_headers(self, body: bytes, request_time: str) -> dict[str, str]:
        """The headers of one attempt: each attempt is signed with its own Request-Time."""
        content = wire.signing_content(
            METHOD, wire.ENDPOINT_PATH, self.client_id, request_time, body
        )
        signature = wire.sign(content, self.private_key)
        return {
            "Content-Type": CONTENT_TYPE,
            "Client-Id": self.client_id,
            "Request-Time": request_time,
            "Signature": wire.format_signature_header(signature, self.key_version),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class AnswerCheck:
    """How an answer is judged: whose it must be and how old it may be."""

    credentials: Credentials
    clock: Clock
    response_time_window: timedelta | None

    def result(self, status: int, headers: Mapping[str, str], body: bytes) -> wire.SyncResult:
        """The verified result, or the error that makes the answer untrustworthy."""
        if status != 200:
            raise TransportError(
                f"HTTP {status} instead of 200",
                status_code=status,
                retryable=status in RETRYABLE_STATUSES,
            )
        self._verify(headers, body)
        try:
            return wire.parse_sync_result(body)
        except ValueError as exc:
            raise MalformedResponseError("signed answer is not a sync result") from exc

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        client_id, response_time, header = (
            headers.get(name) for name in ("client-id", "response-time", "signature")
        )
        if not header or not client_id or not response_time:
            raise ResponseSignatureError(
                "answer is unsigned (needs signature, client-id and response-time headers)"
            )
        try:
            parsed = wire.parse_signature_header(header)
        except wire.SignatureHeaderError as exc:
            raise ResponseSignatureError(f"signature header unreadable: {exc}") from exc
        content = wire.signing_content(METHOD, wire.ENDPOINT_PATH, client_id, response_time, body)
        if not parsed.algorithm_supported or not wire.verify(
            content, parsed.signature, self.credentials.platform_public_key
        ):
            raise ResponseSignatureError("answer signature does not verify with the platform key")
        if client_id != self.credentials.client_id:
            raise ResponseSignatureError(f"answer is for client-id {client_id!r}, not ours")
        self._check_fresh(response_time)

    def _check_fresh(self, response_time: str) -> None:
        # A signed answer does not name the request it answers; freshness stops a replayed one.
        if self.response_time_window is None:
            return
        try:
            sent = wire.parse_request_time(response_time)
        except wire.RequestTimeError as exc:
            raise ResponseSignatureError(f"response-time unreadable: {exc}") from exc
        if not wire.within_window(sent, self.clock(), self.response_time_window):
            raise ResponseSignatureError(
                f"response-time {response_time} is outside ±{self.response_time_window}"
            )


def outcome(
    result: wire.SyncResult,
    *,
    request_id: str,
    out_trans_id: str,
    attempts: int,
    response_time: str,
    body: bytes,
) -> SyncResponse:
    """The success, or raise the rejection named by ``errorCode``."""
    if result.success:
        return SyncResponse(
            request_id=request_id,
            out_trans_id=out_trans_id,
            attempts=attempts,
            response_time=response_time,
            body=body,
        )
    raise rejection_for(
        result.error_code,
        result.error_context,
        request_id=request_id,
        attempts=attempts,
    )
