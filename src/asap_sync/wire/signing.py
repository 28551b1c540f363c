"""The Alipay+ signing content and RSASSA-PKCS1-v1_5 / SHA-256 signatures."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import quote, unquote_to_bytes

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def signing_content(method: str, path: str, client_id: str, time: str, body: bytes) -> bytes:
    """``<METHOD> <PATH>\\n<Client-Id>.<Request-Time>.<body>``, the body exactly as sent."""
    head = f"{method} {path}\n{client_id}.{time}.".encode()
    return head + body


def sign(content: bytes, private_key: rsa.RSAPrivateKey) -> str:
    """Sign content; returns the standard base64 of the signature (not yet URL-encoded)."""
    raw = private_key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def verify(content: bytes, signature_b64: str, public_key: rsa.RSAPublicKey) -> bool:
    """True when ``signature_b64`` (plain base64) is a valid RSA256 signature of content."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, content, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")


def url_encode_signature(signature_b64: str) -> str:
    """URL-encode base64 the way the official SDKs do (``+``, ``/`` and ``=`` escaped)."""
    if _BASE64.fullmatch(signature_b64):  # what quote(safe="") gives, without its loop:
        # of the base64 alphabet only these three are not unreserved URL characters
        return signature_b64.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    return quote(signature_b64, safe="")


def url_decode_signature(value: str) -> str:
    """Percent-decode a signature value, keeping a literal ``+`` (raw base64 still verifies)."""
    if "%" not in value:
        return value if value.isascii() else value.encode().decode("ascii", "replace")
    return unquote_to_bytes(value).decode("ascii", "replace")
