"""The gateway checks of SPEC §2, before the body is read as business data, in their order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync.service.directory import DirectorySnapshot
from asap_sync.wire import (
    KeyFormatError,
    RequestTimeError,
    ResultCode,
    SignatureHeader,
    SignatureHeaderError,
    format_response_time,
    load_public_key,
    parse_request_time,
    parse_signature_header,
    signing_content,
    verify,
    within_window,
)

JSON_TYPES = ("application/json",)
REQUIRED_HEADERS = ("Client-Id", "Signature", "Request-Time")


@dataclass(frozen=True, kw_only=True, slots=True)
class RawRequest:
    """What the HTTP shell hands over: method, path, lower-case headers, body bytes."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    body_too_large: bool = False


class Rejected(Exception):
    """A rejection with its public code; what it names is kept for the operator's log."""

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


@lru_cache(maxsize=1024)
def _public_key(pem: str) -> rsa.RSAPublicKey:
    return load_public_key(pem)


def check_shape(request: RawRequest, body_limit: int) -> None:
    """Method, media type, required headers, body size."""
    if request.method != "POST":
        raise Rejected(ResultCode.METHOD_NOT_SUPPORTED, f"{request.method}: use POST")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise Rejected(
            ResultCode.MEDIA_TYPE_NOT_ACCEPTABLE,
            f"Content-Type {media or '(none)'}: send application/json; charset=UTF-8",
        )
    for header in REQUIRED_HEADERS:
        if not request.headers.get(header.lower(), "").strip():
            raise Rejected(ResultCode.REQUEST_PARAM_ILLEGAL, f"header {header}: is required")
    if request.body_too_large:
        raise Rejected(
            ResultCode.REQUEST_PARAM_ILLEGAL, f"body: larger than the limit of {body_limit} bytes"
        )


@dataclass(frozen=True, slots=True)
class ClientKey:
    """The key a request is to be verified with, and the Signature header that named it."""

    version: int
    public_key: rsa.RSAPublicKey
    header: SignatureHeader


def client_key(snapshot: DirectorySnapshot, client_id: str, signature: str) -> ClientKey:
    """The active key the Signature header names (its newest when it names none)."""
    client = snapshot.client
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
        return ClientKey(found[0], _public_key(found[1]), header)
    except KeyFormatError as exc:
        raise RuntimeError(f"stored key {client_id}/{found[0]} is unreadable") from exc


def check_signature(request: RawRequest, client_id: str, key: ClientKey) -> None:
    """RSA256 over ``<METHOD> <PATH>\\n<Client-Id>.<Request-Time>.<body as received>``."""
    header = key.header
    if not header.algorithm_supported:
        raise Rejected(
            ResultCode.INVALID_SIGNATURE,
            f"algorithm {header.algorithm}: only RSA256 (SHA256withRSA) is accepted",
        )
    content = signing_content(
        request.method, request.path, client_id, request.headers["request-time"], request.body
    )
    if not verify(content, header.signature, key.public_key):
        raise Rejected(
            ResultCode.INVALID_SIGNATURE,
            "signature does not verify over '<METHOD> <PATH>\\n<Client-Id>.<Request-Time>."
            "<body>' with the registered key",
        )


def check_time(value: str, now: datetime, window: timedelta) -> None:
    """Request-Time parses and lies within the freshness window."""
    try:
        sent = parse_request_time(value)
    except RequestTimeError as exc:
        raise Rejected(ResultCode.REQUEST_PARAM_ILLEGAL, f"header Request-Time: {exc}") from exc
    if not within_window(sent, now, window):
        minutes = int(window.total_seconds() // 60)
        raise Rejected(
            ResultCode.REQUEST_PARAM_ILLEGAL,
            f"header Request-Time: {value} is more than {minutes} minutes from the "
            f"platform clock ({format_response_time(now)})",
        )
