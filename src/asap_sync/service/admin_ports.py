"""What the operator use cases read and write: records, filters and the storage port."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self

from asap_sync import wire
from asap_sync.domain.model import Contract
from asap_sync.service.approval_ports import ApprovalRepository
from asap_sync.service.journal import Actor, Journal

ACTIVE = "active"
DISABLED = "disabled"
RETIRED = "retired"


MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 256


class AdminError(Exception):
    """An operator request that cannot be done as asked; the message says why and what to do."""


def check_id(kind: str, value: str) -> str:
    """Ids follow the wire's rule (1–64 characters, no control characters), without padding."""
    if (
        not value
        or len(value) > MAX_ID_LENGTH
        or value != value.strip()
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise AdminError(
            f"{kind} {value!r} is not valid: 1 to {MAX_ID_LENGTH} characters, "
            "no control characters, no leading or trailing spaces"
        )
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientRecord:
    """An API client with its active key versions and the merchants it may report for."""

    client_id: str
    name: str
    status: str
    created_at: datetime
    active_key_versions: tuple[int, ...] = ()
    merchant_ids: tuple[str, ...] = ()
    last_used_at: datetime | None = None  # the latest use of any of its keys (see KeyUse)


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientKeyRecord:
    """One version of a client's public key, stored as X.509 SPKI PEM."""

    client_id: str
    key_version: int
    status: str
    public_key_pem: str
    created_at: datetime
    retired_at: datetime | None = None
    last_used_at: datetime | None = None  # written by the servers at most once a minute

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the key's DER, so an operator can compare keys with a merchant by phone."""
        der = base64.b64decode(wire.public_key_base64(wire.load_public_key(self.public_key_pem)))
        return hashlib.sha256(der).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True, slots=True)
class MerchantLink:
    """A client allowed to report for a merchant."""

    client_id: str
    merchant_id: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class PlatformKeyRecord:
    """A version of the platform's signing key; only its public half leaves the database."""

    key_version: int
    status: str
    public_key_b64: str
    created_at: datetime

    @property
    def public_key_pem(self) -> str:
        """The public key as X.509 SPKI PEM."""
        return wire.public_key_pem(wire.load_public_key(self.public_key_b64))


@dataclass(frozen=True, kw_only=True, slots=True)
class RejectionRecord:
    """A rejected request, as recorded for the operator."""

    rejection_id: int
    received_at: datetime
    code: str
    context: str
    client_id: str | None = None
    merchant_id: str | None = None
    request_id: str | None = None
    out_trans_id: str | None = None
    source: str | None = None  # the caller's address (not recorded before migration 0008)


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionRecord:
    """An accepted transaction with the total of its active commission lines."""

    transaction_id: int
    merchant_id: str
    out_trans_id: str
    client_id: str
    direction: str
    status: str
    period: str
    amount_minor: int
    commission_e4: int
    trans_date: datetime
    accepted_at: datetime
    contract_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ActivityFilter:
    """Which recent rejections or transactions to list, newest first."""

    merchant_id: str | None = None
    client_id: str | None = None
    limit: int = 50


class AdminRepository(Protocol):
    """The operator's reads and writes, inside one database transaction."""

    def lock(self, scope: str) -> None:
        """Serialise writers of one scope until the transaction ends."""

    def get_client(self, client_id: str) -> ClientRecord | None: ...

    def add_client(self, client_id: str, name: str, now: datetime) -> None: ...

    def set_client_status(self, client_id: str, status: str) -> None: ...

    def list_clients(self) -> Sequence[ClientRecord]: ...

    def client_keys(self, client_id: str | None) -> Sequence[ClientKeyRecord]: ...

    def add_client_key(self, client_id: str, version: int, pem: str, now: datetime) -> None: ...

    def retire_client_key(self, client_id: str, version: int, now: datetime) -> None: ...

    def links(self, client_id: str | None, merchant_id: str | None) -> Sequence[MerchantLink]: ...

    def link(self, client_id: str, merchant_id: str, now: datetime) -> None: ...

    def unlink(self, client_id: str, merchant_id: str) -> None: ...

    def contracts(self, merchant_id: str | None) -> Sequence[Contract]: ...

    def get_contract(self, contract_id: str) -> Contract | None: ...

    def add_contract(self, contract: Contract, now: datetime) -> None: ...

    def set_contract_end(self, contract_id: str, valid_to: datetime) -> None: ...

    def platform_keys(self) -> Sequence[PlatformKeyRecord]: ...

    def add_platform_key(
        self, version: int, private_key_pem: str, public_key_b64: str, now: datetime
    ) -> None: ...

    def retire_platform_keys_before(self, version: int) -> None: ...

    def rejections(self, which: ActivityFilter) -> Sequence[RejectionRecord]: ...

    def transactions(self, which: ActivityFilter) -> Sequence[TransactionRecord]: ...


class AdminUnitOfWork(Journal, Protocol):
    """One database transaction for an operator use case: rolled back unless committed."""

    @property
    def approvals(self) -> ApprovalRepository: ...

    @property
    def admin(self) -> AdminRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...


class AdminSessions(Protocol):
    """Opens units of work; read-only ones never block the server's writers."""

    def __call__(self, *, read_only: bool = False) -> AdminUnitOfWork: ...

    def acting(self, actor: Actor) -> AdminSessions:
        """The same sessions, whose units log their changes under ``actor``."""
