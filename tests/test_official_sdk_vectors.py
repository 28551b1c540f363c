"""The official Alipay+ Python SDK reproduces and accepts our golden signature vectors.

If these fail, the vectors (not our code) are wrong, and every test built on them is suspect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

try:  # tests/ may or may not be a package; either way this module is importable
    from tests.official_sdk import harness
except ModuleNotFoundError:
    from official_sdk import harness  # type: ignore[no-redef]

VECTORS_NAME = "alipay-sdk-vectors.json"
IN_REPO = Path(__file__).with_name("vectors") / VECTORS_NAME
SHARED = harness.REPO_ROOT.parent / "shared" / "vectors" / VECTORS_NAME
DATA: dict[str, Any] = json.loads((IN_REPO if IN_REPO.exists() else SHARED).read_text("utf-8"))

Vector = dict[str, Any]


@pytest.fixture(scope="module", autouse=True)
def _official_sdk() -> None:
    harness.require_official()


def _vectors(kind: str) -> list[Vector]:
    vectors = [v for v in DATA["vectors"] if kind in ("any", v["kind"])]
    assert vectors, f"no {kind} vectors in {VECTORS_NAME}"
    return vectors


def _signature_value(header: str) -> str:
    pairs = (item.strip().partition("=") for item in header.split(","))
    return {key: value for key, _, value in pairs}["signature"]


def _run(op: str, vectors: list[Vector], extra: Callable[[Vector], Vector]) -> dict[str, Any]:
    """One bridge process for all vectors; answers keyed by vector name for readable diffs."""
    content = ("method", "path", "clientId", "time", "body")
    items = [{"op": op, **{k: v[k] for k in content}, **extra(v)} for v in vectors]
    results = harness.call({"op": "batch", "items": items})["results"]
    return {v["name"]: r for v, r in zip(vectors, results, strict=True)}


def _official_signatures(kind: str) -> tuple[dict[str, str], dict[str, str]]:
    vectors = _vectors(kind)
    answers = _run("sign", vectors, lambda v: {"privateKey": DATA["privateKeyPkcs8Base64"]})
    expected = {v["name"]: _signature_value(v["signatureHeader"]) for v in vectors}
    return {name: a["signature"] for name, a in answers.items()}, expected


def _checked(op: str, vectors: list[Vector], signature: Callable[[Vector], str]) -> dict[str, Any]:
    public_key = DATA["publicKeySpkiBase64"]
    return _run(op, vectors, lambda v: {"signature": signature(v), "publicKey": public_key})


def test_official_sdk_reproduces_every_golden_request_signature() -> None:
    got, expected = _official_signatures("request")
    assert got == expected


def test_official_sdk_reproduces_every_golden_response_signature() -> None:
    got, expected = _official_signatures("response")
    assert got == expected


def test_official_verify_accepts_every_golden_url_encoded_signature() -> None:
    answers = _checked("verify", _vectors("any"), lambda v: _signature_value(v["signatureHeader"]))
    assert answers == {name: {"ok": True} for name in answers}


def test_official_check_signature_accepts_every_golden_signature_header() -> None:
    answers = _checked("check_signature", _vectors("any"), lambda v: v["signatureHeader"])
    assert answers == {name: {"ok": True} for name in answers}


@pytest.mark.parametrize(
    ("op", "signature"),
    [
        ("verify", lambda v: _signature_value(v["signatureHeader"])),
        ("check_signature", lambda v: v["signatureHeader"]),
    ],
    ids=["verify", "check_signature"],
)
def test_official_sdk_rejects_golden_signatures_over_a_tampered_body(
    op: str, signature: Callable[[Vector], str]
) -> None:
    tampered = [{**v, "body": v["body"] + " "} for v in _vectors("any")]
    answers = _checked(op, tampered, signature)
    assert all(a["ok"] is False and "VerificationError" in a["error"] for a in answers.values())


def test_in_repo_vectors_are_an_exact_copy_of_the_shared_ones() -> None:
    if not SHARED.exists():
        pytest.skip(f"no shared vectors at {SHARED}")
    assert IN_REPO.read_bytes() == SHARED.read_bytes()
