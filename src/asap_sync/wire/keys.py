"""RSA key loading and formatting: PEM or the one-line bare base64 that Alipay hands out."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MIN_KEY_BITS = 2048


class KeyFormatError(ValueError):
    """The text is not an RSA key in a form we accept."""


def _der_from_text(text: str | bytes) -> tuple[bytes, bool]:
    """Return (bytes, is_pem). Bare base64 may be wrapped over several lines."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    stripped = raw.strip()
    if stripped.startswith(b"-----BEGIN"):
        return stripped, True
    compact = b"".join(stripped.split())
    try:
        return base64.b64decode(compact, validate=True), False
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("not PEM and not valid base64") from exc


def load_public_key(text: str | bytes) -> rsa.RSAPublicKey:
    """Load an RSA public key from PEM (SPKI or PKCS#1) or bare base64 DER (SPKI or PKCS#1)."""
    data, is_pem = _der_from_text(text)
    if not is_pem and not data.startswith(b"-----"):
        data = _der_to_pem(data)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError("not an RSA public key (X.509 SPKI or PKCS#1)") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError("not an RSA public key")
    _check_size(key.key_size)
    return key


def _der_to_pem(der: bytes) -> bytes:
    """SPKI DER starts with a nested SEQUENCE (AlgorithmIdentifier); PKCS#1 with an INTEGER."""
    label = b"PUBLIC KEY" if der[2:3] == b"\x30" or der[4:5] == b"\x30" else b"RSA PUBLIC KEY"
    body = base64.encodebytes(der)
    return b"-----BEGIN " + label + b"-----\n" + body + b"-----END " + label + b"-----\n"


def load_private_key(text: str | bytes) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM or bare base64 DER, PKCS#8 or PKCS#1."""
    data, is_pem = _der_from_text(text)
    try:
        if is_pem:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError("not an unencrypted RSA private key (PKCS#8 or PKCS#1)") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError("not an RSA private key")
    _check_size(key.key_size)
    return key


def _check_size(bits: int) -> None:
    if bits < MIN_KEY_BITS:
        raise KeyFormatError(f"RSA key of {bits} bits; at least {MIN_KEY_BITS} are required")


def public_key_pem(key: rsa.RSAPublicKey) -> str:
    """The X.509 SubjectPublicKeyInfo PEM of a public key."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_base64(key: rsa.RSAPublicKey) -> str:
    """The one-line bare base64 (SPKI DER) form of a public key."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    """The unencrypted PKCS#8 PEM of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def private_key_base64(key: rsa.RSAPrivateKey) -> str:
    """The one-line bare base64 (PKCS#8 DER) form of a private key."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode("ascii")


def generate_private_key(bits: int = MIN_KEY_BITS) -> rsa.RSAPrivateKey:
    """A new RSA key pair (public exponent 65537)."""
    _check_size(bits)
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)
