"""Signing content, RSA256 signatures, the Signature header and key formats (SPEC §2)."""

from __future__ import annotations

import base64
import json
import textwrap
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from asap_sync.wire import (
    KeyFormatError,
    SignatureHeaderError,
    format_signature_header,
    generate_private_key,
    load_private_key,
    load_public_key,
    parse_signature_header,
    sign,
    signing_content,
    verify,
)
from asap_sync.wire.signing import url_decode_signature, url_encode_signature

DATA: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "alipay-sdk-vectors.json").read_text("utf-8")
)
VECTORS: list[dict[str, Any]] = DATA["vectors"]
NAMES = [v["name"] for v in VECTORS]


@cache
def vector_private_key() -> rsa.RSAPrivateKey:
    return load_private_key(DATA["privateKeyPkcs8Base64"])


@cache
def vector_public_key() -> rsa.RSAPublicKey:
    return load_public_key(DATA["publicKeySpkiBase64"])


@cache
def small_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (on purpose)


def content_of(vector: dict[str, Any]) -> bytes:
    return signing_content(
        vector["method"],
        vector["path"],
        vector["clientId"],
        vector["time"],
        vector["body"].encode(),
    )


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --- golden vectors -------------------------------------------------------------------------


def test_the_golden_vectors_cover_requests_and_responses() -> None:
    assert {v["kind"] for v in VECTORS} == {"request", "response"}
    assert any(v["time"].isdigit() for v in VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=NAMES)
def test_signing_content_of_every_golden_vector_is_the_official_content_to_sign(
    vector: dict[str, Any],
) -> None:
    assert content_of(vector) == vector["contentToSign"].encode("utf-8")


@pytest.mark.parametrize("vector", VECTORS, ids=NAMES)
def test_our_signature_header_reproduces_every_golden_header_byte_for_byte(
    vector: dict[str, Any],
) -> None:
    signature = sign(content_of(vector), vector_private_key())
    assert format_signature_header(signature, 1) == vector["signatureHeader"]
    assert format_signature_header(signature, "1") == vector["signatureHeader"]


@pytest.mark.parametrize("vector", VECTORS, ids=NAMES)
def test_every_golden_signature_header_verifies(vector: dict[str, Any]) -> None:
    header = parse_signature_header(vector["signatureHeader"])
    assert header.algorithm_supported
    assert header.key_version == "1"
    assert verify(content_of(vector), header.signature, vector_public_key())


@pytest.mark.parametrize("vector", VECTORS, ids=NAMES)
def test_a_golden_signature_does_not_verify_once_the_body_changes_by_one_byte(
    vector: dict[str, Any],
) -> None:
    header = parse_signature_header(vector["signatureHeader"])
    tampered = dict(vector, body=vector["body"] + " ")
    assert not verify(content_of(tampered), header.signature, vector_public_key())


def test_signing_content_is_method_space_path_newline_then_dotted_client_time_and_raw_body() -> (
    None
):
    body = b'{ "a" : 1 }\n'
    assert signing_content("POST", "/p", "C", "T", body) == b'POST /p\nC.T.{ "a" : 1 }\n'


def test_the_same_content_from_another_key_does_not_verify() -> None:
    content = content_of(VECTORS[0])
    other = generate_private_key()
    assert not verify(content, sign(content, other), vector_public_key())


# --- SHA-256 is pinned --------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm",
    [hashes.SHA1(), hashes.SHA224(), hashes.SHA384(), hashes.SHA512()],  # noqa: S303
    ids=lambda a: a.name,
)
def test_a_pkcs1_signature_made_with_another_hash_than_sha256_does_not_verify(
    algorithm: hashes.HashAlgorithm,
) -> None:
    content = content_of(VECTORS[1])
    raw = vector_private_key().sign(content, padding.PKCS1v15(), algorithm)
    assert not verify(content, b64(raw), vector_public_key())


def test_a_pss_signature_with_sha256_does_not_verify() -> None:
    content = content_of(VECTORS[1])
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    raw = vector_private_key().sign(content, pss, hashes.SHA256())
    assert not verify(content, b64(raw), vector_public_key())


def test_a_pkcs1_sha256_signature_made_with_cryptography_directly_verifies() -> None:
    content = content_of(VECTORS[1])
    raw = vector_private_key().sign(content, padding.PKCS1v15(), hashes.SHA256())
    assert verify(content, b64(raw), vector_public_key())


@pytest.mark.parametrize("signature", ["", "not base64!", "%2B%2F", "AAAA", "Zm9v"])
def test_a_signature_that_is_not_valid_base64_or_not_a_signature_does_not_verify(
    signature: str,
) -> None:
    assert not verify(content_of(VECTORS[0]), signature, vector_public_key())


# --- URL encoding of the signature value ---------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=NAMES)
def test_a_raw_unencoded_base64_signature_in_the_header_still_verifies(
    vector: dict[str, Any],
) -> None:
    signature = sign(content_of(vector), vector_private_key())
    assert "+" in signature and "/" in signature and signature.endswith("=")
    header = parse_signature_header(f"algorithm=RSA256,keyVersion=1,signature={signature}")
    assert header.signature == signature
    assert verify(content_of(vector), header.signature, vector_public_key())


def test_percent_decoding_keeps_a_literal_plus_instead_of_turning_it_into_a_space() -> None:
    assert url_decode_signature("ab+cd%2Bef%2Fgh%3D%3D") == "ab+cd+ef/gh=="
    assert parse_signature_header("signature=a+b%2Bc").signature == "a+b+c"


def test_the_emitted_header_url_encodes_plus_slash_and_equals() -> None:
    header = format_signature_header("ab+/cd==", 7)
    assert header == "algorithm=RSA256,keyVersion=7,signature=ab%2B%2Fcd%3D%3D"


@settings(max_examples=200)
@given(raw=st.binary(min_size=1, max_size=300), version=st.integers(1, 10**6))
def test_any_base64_signature_survives_format_then_parse_of_the_header(
    raw: bytes, version: int
) -> None:
    signature = b64(raw)
    header = parse_signature_header(format_signature_header(signature, version))
    assert header.signature == signature
    assert header.key_version == str(version)
    assert url_decode_signature(url_encode_signature(signature)) == signature


# --- Signature header parsing -------------------------------------------------------------


def test_header_parsing_tolerates_whitespace_around_items_keys_and_values() -> None:
    header = parse_signature_header("  algorithm = RSA256 ,  keyVersion= 2 ,\tsignature =abc%3D  ")
    assert (header.algorithm, header.key_version, header.signature) == ("RSA256", "2", "abc=")


def test_header_keys_are_read_in_any_case() -> None:
    header = parse_signature_header("ALGORITHM=RSA256,KeyVersion=3,SIGNATURE=abc")
    assert (header.algorithm, header.key_version, header.signature) == ("RSA256", "3", "abc")


def test_header_items_split_on_the_first_equals_so_values_may_contain_equals() -> None:
    header = parse_signature_header("signature=ab==,keyVersion=1")
    assert header.signature == "ab=="
    assert header.key_version == "1"


def test_header_items_may_come_in_any_order_and_empty_items_are_skipped() -> None:
    header = parse_signature_header("signature=abc,,keyVersion=4,algorithm=RSA256,")
    assert (header.algorithm, header.key_version, header.signature) == ("RSA256", "4", "abc")


@pytest.mark.parametrize("value", ["keyVersion=1,signature=abc", "algorithm=,signature=abc"])
def test_an_absent_or_empty_algorithm_means_rsa256(value: str) -> None:
    header = parse_signature_header(value)
    assert header.algorithm == "RSA256"
    assert header.algorithm_supported


@pytest.mark.parametrize("value", ["signature=abc", "keyVersion=,signature=abc"])
def test_an_absent_or_empty_key_version_means_the_newest_key(value: str) -> None:
    assert parse_signature_header(value).key_version is None


@pytest.mark.parametrize(
    "algorithm", ["RSA256", "rsa256", "Rsa256", "sha256withrsa", "SHA256withRSA", "SHA256WITHRSA"]
)
def test_rsa256_and_sha256withrsa_are_accepted_in_any_case(algorithm: str) -> None:
    assert parse_signature_header(f"algorithm={algorithm},signature=abc").algorithm_supported


@pytest.mark.parametrize(
    "algorithm", ["RSA512", "sha1withrsa", "SHA512withRSA", "HmacSHA256", "ES256", "RSA-256"]
)
def test_an_unknown_algorithm_is_parsed_but_flagged_as_unsupported(algorithm: str) -> None:
    header = parse_signature_header(f"algorithm={algorithm},keyVersion=1,signature=abc")
    assert header.algorithm == algorithm
    assert header.signature == "abc"
    assert not header.algorithm_supported


@pytest.mark.parametrize(
    "value",
    ["", "   ", "algorithm=RSA256,keyVersion=1", "signature=", "signature= ", "algorithm"],
)
def test_a_header_without_a_usable_signature_item_is_refused(value: str) -> None:
    with pytest.raises(SignatureHeaderError):
        parse_signature_header(value)


def test_an_item_that_is_not_key_equals_value_is_refused() -> None:
    with pytest.raises(SignatureHeaderError, match="not key=value"):
        parse_signature_header("algorithm=RSA256,garbage,signature=abc")


# --- key formats ----------------------------------------------------------------------------


def _public_forms(key: rsa.RSAPublicKey) -> dict[str, str]:
    spki_der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs1_der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return {
        "pem spki": key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "pem pkcs1": key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ).decode(),
        "bare spki": b64(spki_der),
        "bare pkcs1": b64(pkcs1_der),
        "bare spki wrapped": "\n".join(textwrap.wrap(b64(spki_der), 64)) + "\n",
        "bare pkcs1 wrapped": "\r\n".join(textwrap.wrap(b64(pkcs1_der), 76)),
        "bare spki padded with spaces": f"  {b64(spki_der)}  \n",
    }


def _private_forms(key: rsa.RSAPrivateKey) -> dict[str, str]:
    def render(encoding: serialization.Encoding, form: serialization.PrivateFormat) -> bytes:
        return key.private_bytes(encoding, form, serialization.NoEncryption())

    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    pkcs8, pkcs1 = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL
    return {
        "pem pkcs8": render(pem, pkcs8).decode(),
        "pem pkcs1": render(pem, pkcs1).decode(),
        "bare pkcs8": b64(render(der, pkcs8)),
        "bare pkcs1": b64(render(der, pkcs1)),
        "bare pkcs8 wrapped": "\n".join(textwrap.wrap(b64(render(der, pkcs8)), 64)),
    }


PUBLIC_FORMS = list(_public_forms(vector_public_key()).items())
PRIVATE_FORMS = list(_private_forms(vector_private_key()).items())


@pytest.mark.parametrize(("form", "text"), PUBLIC_FORMS, ids=[f for f, _ in PUBLIC_FORMS])
def test_a_public_key_loads_from_pem_and_from_bare_base64_spki_or_pkcs1(
    form: str, text: str
) -> None:
    for given_text in (text, text.encode("ascii")):
        key = load_public_key(given_text)
        assert key.public_numbers() == vector_public_key().public_numbers()


@pytest.mark.parametrize(("form", "text"), PRIVATE_FORMS, ids=[f for f, _ in PRIVATE_FORMS])
def test_a_private_key_loads_from_pem_and_from_bare_base64_pkcs8_or_pkcs1(
    form: str, text: str
) -> None:
    key = load_private_key(text)
    assert key.private_numbers() == vector_private_key().private_numbers()


def test_the_golden_key_pair_belongs_together() -> None:
    assert vector_private_key().public_key().public_numbers() == (
        vector_public_key().public_numbers()
    )
    assert vector_public_key().key_size == 2048


@pytest.mark.parametrize("form", ["pem spki", "pem pkcs1", "bare spki", "bare pkcs1"])
def test_a_public_key_under_2048_bits_is_refused(form: str) -> None:
    text = _public_forms(small_key().public_key())[form]
    with pytest.raises(KeyFormatError, match="1024 bits"):
        load_public_key(text)


@pytest.mark.parametrize("form", ["pem pkcs8", "pem pkcs1", "bare pkcs8", "bare pkcs1"])
def test_a_private_key_under_2048_bits_is_refused(form: str) -> None:
    text = _private_forms(small_key())[form]
    with pytest.raises(KeyFormatError, match="1024 bits"):
        load_private_key(text)


def test_generating_a_key_under_2048_bits_is_refused() -> None:
    with pytest.raises(KeyFormatError):
        generate_private_key(1024)


def _ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _with_unknown_algorithm_oid(der: bytes) -> str:
    """The key with its rsaEncryption OID (1.2.840.113549.1.1.1) turned into an unknown one."""
    oid = bytes.fromhex("06092a864886f70d010101")
    assert oid in der
    return b64(der.replace(oid, oid[:-1] + b"\x7f", 1))


GARBAGE = [
    "",
    "   ",
    "not a key",
    "é",
    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    b64(b"\x30\x03\x02\x01\x05"),
    b64(bytes(range(256))),
    DATA["publicKeySpkiBase64"][:-8],
]


@pytest.mark.parametrize("text", GARBAGE)
def test_garbage_is_refused_as_a_public_key_with_key_format_error(text: str) -> None:
    with pytest.raises(KeyFormatError):
        load_public_key(text)


@pytest.mark.parametrize("text", [*GARBAGE, DATA["privateKeyPkcs8Base64"][:-8]])
def test_garbage_is_refused_as_a_private_key_with_key_format_error(text: str) -> None:
    with pytest.raises(KeyFormatError):
        load_private_key(text)


def test_a_private_key_given_as_public_key_and_the_reverse_are_refused() -> None:
    with pytest.raises(KeyFormatError):
        load_public_key(DATA["privateKeyPkcs8Base64"])
    with pytest.raises(KeyFormatError):
        load_private_key(DATA["publicKeySpkiBase64"])


def test_keys_that_are_not_rsa_are_refused() -> None:
    key = _ec_key()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="RSA"):
        load_public_key(public_pem)
    with pytest.raises(KeyFormatError, match="RSA"):
        load_private_key(b64(private_der))


def test_a_key_with_an_unknown_algorithm_identifier_is_refused_with_key_format_error() -> None:
    # cryptography raises UnsupportedAlgorithm (not a ValueError) for an unknown key OID.
    public_der = base64.b64decode(DATA["publicKeySpkiBase64"])
    private_der = base64.b64decode(DATA["privateKeyPkcs8Base64"])
    with pytest.raises(KeyFormatError):
        load_public_key(_with_unknown_algorithm_oid(public_der))
    with pytest.raises(KeyFormatError):
        load_private_key(_with_unknown_algorithm_oid(private_der))


@given(st.text(max_size=80) | st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()))
def test_url_encoding_is_percent_encoding_of_every_character_but_the_unreserved(
    value: str,
) -> None:
    # The fast path for base64 must agree with the general percent-encoding it replaces.
    assert url_encode_signature(value) == quote(value, safe="")
    assert url_decode_signature(value) == unquote_to_bytes(value).decode("ascii", "replace")
