"""Framing checks of a signed endpoint's request, before the gateway reads it (SPEC §2.1).

What a proxy in front and this server could read differently is refused, so that both always
agree on what was signed: a single-valued header sent twice (one would read the first, the
other the last), a target whose path is percent-encoded (the signature covers the path as
sent, the router matched it decoded) and a query string (the signature does not cover it).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from asap_sync.wire.messages import ENDPOINT_PATH

SINGLE_VALUED = {
    b"client-id": "Client-Id",
    b"request-time": "Request-Time",
    b"signature": "Signature",
    b"content-type": "Content-Type",
    b"content-length": "Content-Length",
}


_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,64}")


def framing_error(scope: Mapping[str, Any]) -> str | None:
    """Why the request's framing is refused (an ``errorContext``), or None when it is sound."""
    headers = scope["headers"]
    return _target_error(scope) or _duplicate_header(headers) or _client_id_error(headers)


def echoed_client_id(value: str) -> str:
    """The Client-Id an answer carries and is signed with: the request's when well-formed,
    else its visible ASCII characters, at most 64 (an HTTP client trims what it reads)."""
    if _CLIENT_ID.fullmatch(value):
        return value
    return "".join(ch for ch in value[:4096] if "!" <= ch <= "~")[:64]


def _client_id_error(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if (
            name.lower() == b"client-id"
            and value.strip()
            and not _CLIENT_ID.fullmatch(value.decode("latin-1"))
        ):
            return "header Client-Id: must be 1 to 64 visible ASCII characters"
    return None


def _target_error(scope: Mapping[str, Any]) -> str | None:
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, bytes) and raw_path.startswith((b"http://", b"https://")):
        raw_path = urlsplit(raw_path).path  # an absolute-form target, as the official SDKs send
    if raw_path is not None and raw_path != ENDPOINT_PATH.encode():
        return f"request target: the path must be sent as {ENDPOINT_PATH}, not percent-encoded"
    if scope.get("query_string"):
        return "request target: a query string is not accepted (it is not signed)"
    return None


def _duplicate_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    counts = Counter(name.lower() for name, _ in headers if name.lower() in SINGLE_VALUED)
    for name, count in counts.items():
        if count > 1:
            return f"header {SINGLE_VALUED[name]}: sent {count} times; send it once"
    return None


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length the request declares, or None (chunked, absent or unreadable)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() and text.isascii() else None
    return None
