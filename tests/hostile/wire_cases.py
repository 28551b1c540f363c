"""Kinds of hostile headers, signature headers, target forms, methods and HTTP framing."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.hostile.body_cases import Kind
from tests.hostile.requests import ANY_ANSWER, Case, Request, compact, fresh_body
from tests.kit import CLIENT_ID

ILLEGAL = frozenset({"REQUEST_PARAM_ILLEGAL"})
SIGNATURE_CODES = frozenset({"INVALID_SIGNATURE", "KEY_NOT_FOUND", "REQUEST_PARAM_ILLEGAL"})
BAD_REQUEST = frozenset({400})


def _signed(rng: random.Random, **sign: object) -> Request:
    return Request(compact(fresh_body(rng))).sign(**sign)  # type: ignore[arg-type]


def _kind(name: str, build: Callable[[random.Random], Case]) -> Kind:
    return name, build


SIGNATURE_HEADERS = (
    "",
    ",",
    "signature",
    "signature=",
    "algorithm=RSA256",
    "algorithm=RSA256,keyVersion=1",
    "algorithm=RSA512,keyVersion=1,signature=AAAA",
    "algorithm=SHA1withRSA,keyVersion=1,signature=AAAA",
    "algorithm=,keyVersion=1,signature=AAAA",
    "algorithm=RSA256,keyVersion=1,signature=%%%",
    "algorithm=RSA256,keyVersion=1,signature=%ZZ",
    "algorithm=RSA256,keyVersion=1,signature=====",
    "algorithm=RSA256,keyVersion=1,signature=" + "A" * 10000,
    "algorithm=RSA256,keyVersion=1,signature=" + "QUFB" * 64,
    "algorithm=RSA256,keyVersion=1,signature=\u00e9\u00e9",
    "keyVersion=1,signature=AAAA,signature=BBBB",
    "algorithm=RSA256,keyVersion=1,keyVersion=2,signature=AAAA",
    "algorithm=RSA256;keyVersion=1;signature=AAAA",
    "ALGORITHM=rsa256,KEYVERSION=1,SIGNATURE=AAAA",
    " algorithm = RSA256 , keyVersion = 1 , signature = AAAA ",
    "signature=AAAA" + ",x=y" * 2000,
    "=,=,=,signature=AAAA",
    "algorithm=RSA256,keyVersion=1,signature=AAAA%00",
    "algorithm=RSA256,keyVersion=1,signature=A+A/A==",
    "garbage without equals",
)

KEY_VERSIONS = (
    "\u00b2",
    "\u0663",
    "\uff11",
    "0",
    "-1",
    "+1",
    "1.0",
    "1e0",
    "0x1",
    " 1 2",
    "1234567890",
    "9" * 5000,
    "999999999",
    "7",
    "2",
)

REQUEST_TIMES = (
    "",
    "now",
    "0",
    "-1",
    "9999999999999",
    "16850810000000",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2019-10-22T01:19:50",
    "2019-10-22T01:19:50+08:00",
    "2025-02-30T00:00:00Z",
    "2025-01-01T00:00:00+99:99",
    "\u0661\u0662\u0663",
    "T" * 10000,
)

CLIENT_IDS = (
    "999",
    " ",
    CLIENT_ID + " ",
    "x" * 64,
    "x" * 65,
    "x" * 10000,
    "caf\u00e9",
    "a\tb",
    "a,b",
    "\u00ff" * 100,
)


def _signature_kind(value: str) -> Kind:
    def build(rng: random.Random) -> Case:
        request = _signed(rng).replace(b"Signature", value.encode())
        return Case(
            kind=f"Signature {value[:40]!r}", payload=request.frame(), codes=SIGNATURE_CODES
        )

    return _kind(f"Signature {value[:40]!r}", build)


def _key_version_kind(value: str) -> Kind:
    def build(rng: random.Random) -> Case:
        payload = _signed(rng, key_version=value).frame()
        codes = frozenset({"KEY_NOT_FOUND"})
        return Case(kind=f"keyVersion {value[:20]!r}", payload=payload, codes=codes)

    return _kind(f"keyVersion {value[:20]!r}", build)


def _request_time_kind(value: str) -> Kind:
    def build(rng: random.Random) -> Case:
        payload = _signed(rng, request_time=value).frame()
        codes = frozenset({"REQUEST_PARAM_ILLEGAL", "INVALID_SIGNATURE"})  # non-Latin-1 text
        return Case(kind=f"Request-Time {value[:30]!r}", payload=payload, codes=codes)

    return _kind(f"Request-Time {value[:30]!r}", build)


def _client_id_kind(value: str) -> Kind:
    def build(rng: random.Random) -> Case:
        payload = _signed(rng, client_id=value).frame()
        codes = frozenset({"INVALID_CLIENT", "REQUEST_PARAM_ILLEGAL"})
        if value.strip(" \t") == CLIENT_ID:
            # Whitespace around a field value is not part of it (RFC 9110 §5.5), and HTTP
            # parsers differ in whether they hand it on: the server may see the registered
            # Client-Id, over which the caller did not sign.
            codes |= {"INVALID_SIGNATURE"}
        return Case(kind=f"Client-Id {value[:20]!r}", payload=payload, codes=codes)

    return _kind(f"Client-Id {value[:20]!r}", build)


SINGLE_VALUED = (b"Client-Id", b"Request-Time", b"Signature", b"Content-Type")


def _duplicate_kind(name: bytes, same: bool) -> Kind:
    label = f"duplicate {name.decode()} ({'same' if same else 'different'} value)"

    def build(rng: random.Random) -> Case:
        request = _signed(rng)
        value = dict(request.headers)[name]
        request.add(name.lower() if rng.random() < 0.5 else name, value if same else b"other")
        return Case(kind=label, payload=request.frame(), codes=ILLEGAL)

    return _kind(label, build)


def _missing_kind(name: bytes, empty: bool) -> Kind:
    label = f"{'empty' if empty else 'missing'} {name.decode()}"

    def build(rng: random.Random) -> Case:
        request = _signed(rng).replace(name, b"" if empty else None)
        codes = frozenset({"REQUEST_PARAM_ILLEGAL", "MEDIA_TYPE_NOT_ACCEPTABLE"})
        return Case(kind=label, payload=request.frame(), codes=codes)

    return _kind(label, build)


CONTENT_TYPES = (
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
    "application/json;;;",
    "APPLICATION/JSON",
    "application/problem+json",
    "application/jsonx",
    "application/json, text/plain",
    "application/json; charset=" + "x" * 5000,
)


def _content_type_kind(value: str) -> Kind:
    def build(rng: random.Random) -> Case:
        request = _signed(rng).replace(b"Content-Type", value.encode())
        codes = frozenset({"MEDIA_TYPE_NOT_ACCEPTABLE", "SUCCESS", "REQUEST_PARAM_ILLEGAL"})
        return Case(kind=f"Content-Type {value[:30]!r}", payload=request.frame(), codes=codes)

    return _kind(f"Content-Type {value[:30]!r}", build)


TARGETS: dict[bytes, frozenset[int]] = {
    b"/amsin/commercial/certificate/%61ccept": frozenset(),
    b"/amsin/commercial/certificate/accept?": frozenset(),
    b"/amsin/commercial/certificate/accept?a=1": frozenset(),
    b"/amsin/commercial/certificate/accept#frag": frozenset({400}),
    b"http://127.0.0.1/amsin/commercial/certificate/accept": frozenset(),
    b"https://example.com:443/amsin/commercial/certificate/accept": frozenset(),
    b"http://127.0.0.1/amsin/commercial/certificate/accept?x": frozenset(),
    b"/amsin/commercial/certificate/accept/": frozenset({404}),
    b"//amsin/commercial/certificate/accept": frozenset({404}),
    b"/AMSIN/commercial/certificate/accept": frozenset({404}),
    b"/amsin/commercial/certificate/../certificate/accept": frozenset({404}),
    b"/amsin/commercial/certificate/accept;x=1": frozenset({404}),
    b"*": frozenset({400, 404}),
    b"/" + b"a" * 20000: frozenset({431}),
    b"/amsin/commercial/certificate/accept%00": frozenset({404}),
}


def _target_kind(target: bytes, plain: frozenset[int]) -> Kind:
    label = f"target {target[:60]!r}"

    def build(rng: random.Random) -> Case:
        request = _signed(rng)
        request.target = target
        return Case(kind=label, payload=request.frame(), codes=ANY_ANSWER, plain=plain)

    return _kind(label, build)


METHODS = ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "post", "POSTX", "TRACE")


def _method_kind(method: str) -> Kind:
    def build(rng: random.Random) -> Case:
        request = Request(compact(fresh_body(rng)), method=method).sign()
        codes = frozenset({"METHOD_NOT_SUPPORTED"})
        return Case(
            kind=f"method {method}",
            payload=request.frame(),
            method=method,
            codes=codes,
            plain=BAD_REQUEST,
        )

    return _kind(f"method {method}", build)
