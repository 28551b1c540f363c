"""The ``Signature`` header: ``algorithm=RSA256,keyVersion=1,signature=<url-encoded base64>``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from asap_sync.wire.echo import echoed
from asap_sync.wire.signing import url_decode_signature, url_encode_signature

ACCEPTED_ALGORITHMS = frozenset({"rsa256", "sha256withrsa"})
_KEY_VERSION = re.compile(r"[0-9]{1,9}")  # ASCII only: str.isdigit() also takes "²" and "٣"


class SignatureHeaderError(ValueError):
    """The header cannot be read (no signature item, or an empty value)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SignatureHeader:
    """A parsed Signature header. ``signature`` is plain base64, already URL-decoded."""

    signature: str
    algorithm: str = "RSA256"
    key_version: str | None = None

    @property
    def algorithm_supported(self) -> bool:
        """RSA256 under either of its spellings, any case."""
        return self.algorithm.lower() in ACCEPTED_ALGORITHMS


def parse_signature_header(value: str) -> SignatureHeader:
    """Parse comma-separated ``key=value`` items; split on the first ``=``; keys any case."""
    items: dict[str, str] = {}
    for part in value.split(","):
        item = part.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep:
            raise SignatureHeaderError(f"item {echoed(item)!r} is not key=value")
        items[key.strip().lower()] = val.strip()
    signature = items.get("signature", "")
    if not signature:
        raise SignatureHeaderError("no signature item")
    algorithm = items.get("algorithm") or "RSA256"
    key_version = items.get("keyversion") or None
    return SignatureHeader(
        signature=url_decode_signature(signature), algorithm=algorithm, key_version=key_version
    )


def parse_key_version(value: str) -> int | None:
    """The key version a ``keyVersion`` value names: 1 to 9 ASCII digits, else None."""
    return int(value) if _KEY_VERSION.fullmatch(value) else None


def format_signature_header(signature_b64: str, key_version: str | int) -> str:
    """The exact header we emit: ``algorithm=RSA256,keyVersion=<n>,signature=<url-encoded>``."""
    encoded = url_encode_signature(signature_b64)
    return f"algorithm=RSA256,keyVersion={key_version},signature={encoded}"
