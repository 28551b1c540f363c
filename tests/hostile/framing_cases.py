"""Kinds of hostile HTTP framing: head size, line endings, lengths, chunks, slow and idle peers."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.hostile.body_cases import Kind, body_kinds
from tests.hostile.requests import ANY_ANSWER, Case, Request, compact, fresh_body
from tests.hostile.wire_cases import (
    CLIENT_IDS,
    CONTENT_TYPES,
    KEY_VERSIONS,
    METHODS,
    REQUEST_TIMES,
    SIGNATURE_HEADERS,
    SINGLE_VALUED,
    TARGETS,
    _client_id_kind,
    _content_type_kind,
    _duplicate_kind,
    _key_version_kind,
    _method_kind,
    _missing_kind,
    _request_time_kind,
    _signature_kind,
    _target_kind,
)

ILLEGAL = frozenset({"REQUEST_PARAM_ILLEGAL"})
BAD = frozenset({400})


def _signed(rng: random.Random) -> Request:
    return Request(compact(fresh_body(rng))).sign()


def _head(rng: random.Random, request: Request) -> bytes:
    return request.frame().partition(b"\r\n\r\n")[0]


def _chunked(rng: random.Random, chunks: list[bytes], *, trailer: bytes = b"") -> bytes:
    request = _signed(rng)
    request.content_length = False
    request.add(b"Transfer-Encoding", b"chunked")
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n" + trailer + b"\r\n"
    return _head(rng, request) + b"\r\n\r\n" + body


def _giant_chunked(rng: random.Random) -> bytes:
    return _chunked(rng, [b"x" * 32768] * rng.choice([3, 32]))


def _oversized_declared(rng: random.Random) -> bytes:
    head = _head(rng, _signed(rng)).replace(b"Content-Length: ", b"X-Was-Length: ")
    return head + b"\r\nContent-Length: %d\r\n\r\n{" % rng.choice([65537, 10**8, 10**15])


def _raw(name: str, make: Callable[[random.Random], bytes], **expect: object) -> Kind:
    def build(rng: random.Random) -> Case:
        return Case(kind=f"framing: {name}", payload=make(rng), **expect)  # type: ignore[arg-type]

    return f"framing: {name}", build


def _with_header(line: bytes) -> Callable[[random.Random], bytes]:
    def make(rng: random.Random) -> bytes:
        head, _, body = _signed(rng).frame().partition(b"\r\n\r\n")
        return head + b"\r\n" + line + b"\r\n\r\n" + body

    return make


FRAMING: list[Kind] = [
    _raw(
        "head over 16 KiB in one header",
        _with_header(b"X-Big: " + b"a" * 20000),
        plain=frozenset({431}),
        signed=False,
    ),
    _raw(
        "head over 16 KiB in many headers",
        _with_header(b"\r\n".join([b"X-A: 0123456789"] * 2000)),
        plain=frozenset({431}),
        signed=False,
    ),
    _raw(
        "a header line of 1 MB",
        _with_header(b"X-Huge: " + b"b" * 1_000_000),
        plain=frozenset({431}),
        signed=False,
    ),
    _raw("header without colon", _with_header(b"NoColonHere"), plain=BAD, signed=False),
    _raw("space before colon", _with_header(b"X-A : b"), plain=BAD, signed=False),
    _raw("obs-fold continuation", _with_header(b"X-A: b\r\n  folded"), plain=BAD, codes=ANY_ANSWER),
    _raw("NUL in a header value", _with_header(b"X-A: a\x00b"), plain=BAD, signed=False),
    _raw("CR alone in a header value", _with_header(b"X-A: a\rb"), plain=BAD, signed=False),
    _raw("non-ASCII header name", _with_header(b"X-\xe9: b"), plain=BAD, signed=False),
    _raw(
        "Content-Length and Transfer-Encoding",
        _with_header(b"Transfer-Encoding: chunked"),
        plain=BAD,
        signed=False,
    ),
    _raw("two Content-Length", _with_header(b"Content-Length: 3"), plain=BAD, codes=ILLEGAL),
    _raw(
        "negative Content-Length",
        lambda rng: (
            _head(rng, _signed(rng)).replace(b"Content-Length: ", b"Content-Length: -")
            + b"\r\n\r\n{}"
        ),
        plain=BAD,
        signed=False,
    ),
    _raw(
        "Content-Length not a number",
        lambda rng: (
            _head(rng, _signed(rng)).rsplit(b"\r\n", 1)[0] + b"\r\nContent-Length: 1x\r\n\r\n{}"
        ),
        plain=BAD,
        signed=False,
    ),
    _raw("declared body over the limit", _oversized_declared, codes=ILLEGAL),
    _raw("chunked body over the limit", _giant_chunked, codes=ILLEGAL),
    _raw("chunked body", lambda rng: _chunked(rng, [compact(fresh_body(rng))]), codes=ANY_ANSWER),
    _raw(
        "chunk size not hex",
        lambda rng: _chunked(rng, [b"{}"]).replace(b"\r\n2\r\n", b"\r\nzz\r\n"),
        plain=BAD,
        codes=ANY_ANSWER,
    ),
    _raw(
        "chunk size overflowing",
        lambda rng: _chunked(rng, [b"{}"]).replace(b"\r\n2\r\n", b"\r\nffffffffffffffffffff\r\n"),
        plain=BAD,
        codes=ANY_ANSWER,
    ),
    _raw(
        "chunk extension",
        lambda rng: _chunked(rng, [b"{}"]).replace(b"\r\n2\r\n", b"\r\n2;x=y\r\n"),
        codes=ANY_ANSWER,
    ),
    _raw(
        "chunked trailer",
        lambda rng: _chunked(rng, [b"{}"], trailer=b"X-T: 1\r\n"),
        codes=ANY_ANSWER,
    ),
    _raw(
        "body shorter than declared",
        lambda rng: _signed(rng).frame()[:-5],
        plain=frozenset({408}),
        signed=False,
    ),
    _raw(
        "head never finished",
        lambda rng: _head(rng, _signed(rng)),
        plain=frozenset({408}),
        signed=False,
    ),
    _raw("nothing sent", lambda rng: b"", closed=True, signed=False),
    _raw(
        "half a request line", lambda rng: b"POST /amsin/comm", plain=frozenset({408}), signed=False
    ),
    _raw(
        "LF-only line endings",
        lambda rng: _signed(rng).frame().replace(b"\r\n", b"\n"),
        plain=BAD,
        codes=ANY_ANSWER,
    ),
    _raw(
        "HTTP/1.0",
        lambda rng: _signed(rng).frame().replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        codes=ANY_ANSWER,
    ),
    _raw(
        "HTTP/2.0 in HTTP/1 framing",
        lambda rng: _signed(rng).frame().replace(b"HTTP/1.1", b"HTTP/2.0", 1),
        plain=BAD,
        codes=ANY_ANSWER,
    ),
    _raw(
        "HTTP/9.9",
        lambda rng: _signed(rng).frame().replace(b"HTTP/1.1", b"HTTP/9.9", 1),
        plain=BAD,
        codes=ANY_ANSWER,
    ),
    _raw(
        "HTTP/2 preface", lambda rng: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", plain=BAD, signed=False
    ),
    _raw(
        "TLS hello on the plain port",
        lambda rng: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rng.randbytes(64),
        plain=BAD,
        signed=False,
    ),
    _raw(
        "random bytes",
        lambda rng: rng.randbytes(rng.randint(1, 2048)) + b"\r\n\r\n",
        plain=BAD,
        signed=False,
        closed=True,
    ),
    _raw("Expect 100-continue", _with_header(b"Expect: 100-continue"), codes=ANY_ANSWER),
    _raw(
        "Expect 100-continue with a body over the limit",
        lambda rng: _oversized_declared(rng).replace(
            b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n", 1
        ),
        codes=ILLEGAL,
    ),
    _raw(
        "upgrade to websocket",
        _with_header(b"Connection: Upgrade\r\nUpgrade: websocket"),
        plain=BAD,
        codes=ANY_ANSWER,
    ),
    _raw(
        "pipelined garbage after a request",
        lambda rng: _signed(rng).frame() + b"GARBAGE\r\n\r\n",
        codes=ANY_ANSWER,
        plain=BAD,
    ),
]


def all_kinds() -> list[Kind]:
    """Every kind of hostile request, in a stable order."""
    kinds = body_kinds()
    kinds += [_signature_kind(v) for v in SIGNATURE_HEADERS]
    kinds += [_key_version_kind(v) for v in KEY_VERSIONS]
    kinds += [_request_time_kind(v) for v in REQUEST_TIMES]
    kinds += [_client_id_kind(v) for v in CLIENT_IDS]
    kinds += [_duplicate_kind(n, same) for n in SINGLE_VALUED for same in (True, False)]
    kinds += [_missing_kind(n, empty) for n in SINGLE_VALUED for empty in (True, False)]
    kinds += [_content_type_kind(v) for v in CONTENT_TYPES]
    kinds += [_target_kind(t, plain) for t, plain in TARGETS.items()]
    kinds += [_method_kind(m) for m in METHODS]
    kinds += FRAMING
    return kinds
