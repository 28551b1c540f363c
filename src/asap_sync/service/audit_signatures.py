"""Re-proving a transaction: its raw request's signature, and its lines against the signed body."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync.domain.commission import pay_amount_minor
from asap_sync.domain.invariants import Violation
from asap_sync.domain.model import SyncCommand
from asap_sync.wire import (
    KeyFormatError,
    SignatureHeaderError,
    load_public_key,
    parse_signature_header,
    signing_content,
    verify,
)

KeyLookup = Callable[[str, int], str | None]


def load_key(pem: str | None) -> rsa.RSAPublicKey | None:
    """A public key, or None when there is none or it is unreadable."""
    if pem is None:
        return None
    try:
        return load_public_key(pem)
    except KeyFormatError:
        return None


class SignatureChecker:
    """Verifies raw requests with the client's key of the version that verified them first."""

    def __init__(self, lookup: KeyLookup) -> None:
        self._lookup = lookup
        self._keys: dict[tuple[str, int], rsa.RSAPublicKey | None] = {}

    def _key(self, client_id: str, version: int) -> rsa.RSAPublicKey | None:
        if (client_id, version) not in self._keys:
            self._keys[(client_id, version)] = load_key(self._lookup(client_id, version))
        return self._keys[(client_id, version)]

    def check(self, row: Any, subject: str) -> Violation | None:
        """None when the stored request still verifies; else what is wrong."""
        problem = self._problem(row)
        if problem is None:
            return None
        return Violation(check="signature", subject=subject, detail=problem)

    def _problem(self, row: Any) -> str | None:
        if row.raw_client_id is None:
            return "its raw request is missing"
        if row.raw_client_id != row.client_id:
            return f"its raw request was sent by {row.raw_client_id}, not by {row.client_id}"
        key = self._key(row.raw_client_id, int(row.key_version))
        if key is None:
            return f"client {row.raw_client_id} has no readable key version {row.key_version}"
        try:
            header = parse_signature_header(row.signature)
        except SignatureHeaderError as exc:
            return f"stored Signature header does not parse: {exc}"
        if header.key_version is not None and header.key_version != str(row.key_version):
            return f"Signature names keyVersion {header.key_version}, stored {row.key_version}"
        content = signing_content(
            row.method, row.path, row.raw_client_id, row.request_time, bytes(row.body)
        )
        if not header.algorithm_supported or not verify(content, header.signature, key):
            return (
                f"the stored request no longer verifies with key version {row.key_version} "
                "(body, headers or signature changed)"
            )
        return None


def check_pay_lines(
    subject: str, command: SyncCommand, amount_minor: int, lines: Sequence[Any]
) -> list[Violation]:
    """A pay's amount and active lines follow from its signed goods and tradeAmt."""
    found = []
    expected_amount = pay_amount_minor(command.trade_amount_minor, command.goods)
    # The raw request is the one that last defined the pay: its tradeAmt, else its goods.
    if amount_minor != expected_amount:
        found.append(
            Violation(
                check="amount-mismatch",
                subject=subject,
                detail=f"stored amount {amount_minor}, the signed request gives {expected_amount}",
            )
        )
    expected: list[tuple[int | None, str | None, int]] = [
        (i, g.code, g.price_minor) for i, g in enumerate(command.goods)
    ] or [(None, None, command.trade_amount_minor or 0)]
    actual = [(line.goods_index, line.goods_code, line.base_minor) for line in lines]
    if actual != expected:
        found.append(
            Violation(
                check="lines-mismatch",
                subject=subject,
                detail=f"active lines (index, goods, base) {actual}; the signed request "
                f"gives {expected}",
            )
        )
    return found
