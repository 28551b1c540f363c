"""Operator use cases: clients, their keys, merchant links, the platform key, initialisation.

Contracts live in :mod:`asap_sync.service.admin_contracts`; both are re-exported here.
Every use case owns its transaction and raises :class:`AdminError` for anything an operator
can get wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync import wire
from asap_sync.service.admin_contracts import (
    NewContract,
    add_contract,
    end_contract,
    list_contracts,
    parse_moment,
    parse_rule,
    parse_rules,
)
from asap_sync.service.admin_ports import (
    ACTIVE,
    DISABLED,
    MAX_NAME_LENGTH,
    RETIRED,
    ActivityFilter,
    AdminError,
    AdminRepository,
    AdminSessions,
    ClientKeyRecord,
    ClientRecord,
    MerchantLink,
    PlatformKeyRecord,
    RejectionRecord,
    TransactionRecord,
    check_id,
)

__all__ = [
    "ActivityFilter",
    "AdminError",
    "ClientKeyRecord",
    "ClientRecord",
    "Initialised",
    "MerchantLink",
    "NewContract",
    "PlatformKeyRecord",
    "RejectionRecord",
    "TransactionRecord",
    "add_client",
    "add_client_key",
    "add_contract",
    "end_contract",
    "initialise",
    "link_merchant",
    "list_client_keys",
    "list_clients",
    "list_contracts",
    "list_links",
    "newest_platform_key",
    "parse_moment",
    "parse_rule",
    "parse_rules",
    "recent_rejections",
    "recent_transactions",
    "retire_client_key",
    "rotate_platform_key",
    "set_client_enabled",
    "unlink_merchant",
]

NewKey = Callable[[], rsa.RSAPrivateKey]


def _existing_client(repo: AdminRepository, client_id: str) -> ClientRecord:
    client = repo.get_client(client_id)
    if client is None:
        raise AdminError(f"unknown client {client_id!r}: add it with `asap-sync clients add`")
    return client


# -- clients ------------------------------------------------------------------------------


def add_client(
    sessions: AdminSessions, client_id: str, *, name: str = "", now: datetime
) -> ClientRecord:
    """Register an API client (a merchant or an ISV); it needs a key before it can call."""
    check_id("client id", client_id)
    if len(name) > MAX_NAME_LENGTH:
        raise AdminError(f"client name is longer than {MAX_NAME_LENGTH} characters")
    with sessions() as uow:
        if uow.admin.get_client(client_id) is not None:
            raise AdminError(f"client {client_id!r} already exists")
        uow.admin.add_client(client_id, name, now)
        uow.note("client.add", client_id, after={"name": name, "status": ACTIVE})
        uow.commit()
    return ClientRecord(client_id=client_id, name=name, status=ACTIVE, created_at=now)


def set_client_enabled(sessions: AdminSessions, client_id: str, *, enabled: bool) -> ClientRecord:
    """Disable a client (its requests answer INVALID_CLIENT) or enable it again."""
    with sessions() as uow:
        before = _existing_client(uow.admin, client_id)
        uow.admin.set_client_status(client_id, ACTIVE if enabled else DISABLED)
        client = _existing_client(uow.admin, client_id)
        uow.note(
            "client.enable" if enabled else "client.disable",
            client_id,
            before={"status": before.status},
            after={"status": client.status},
        )
        uow.commit()
    return client


def list_clients(sessions: AdminSessions) -> Sequence[ClientRecord]:
    """Every client with its active key versions and linked merchants."""
    with sessions(read_only=True) as uow:
        return uow.admin.list_clients()


# -- client keys --------------------------------------------------------------------------


def add_client_key(
    sessions: AdminSessions,
    client_id: str,
    key_text: str,
    *,
    version: int | None = None,
    now: datetime,
) -> ClientKeyRecord:
    """Store a client's public key (PEM or one-line base64) under a version, by default the next."""
    try:
        pem = wire.public_key_pem(wire.load_public_key(key_text))
    except wire.KeyFormatError as exc:
        raise AdminError(f"the key for client {client_id!r} is not usable: {exc}") from None
    if version is not None and version < 1:
        raise AdminError(f"key version must be 1 or more, not {version}")
    with sessions() as uow:
        _existing_client(uow.admin, client_id)
        uow.admin.lock(f"client-keys:{client_id}")
        taken = {k.key_version for k in uow.admin.client_keys(client_id)}
        if version is None:
            version = max(taken, default=0) + 1
        elif version in taken:
            raise AdminError(f"client {client_id!r} already has a key version {version}")
        uow.admin.add_client_key(client_id, version, pem, now)
        added = ClientKeyRecord(
            client_id=client_id,
            key_version=version,
            status=ACTIVE,
            public_key_pem=pem,
            created_at=now,
        )
        uow.note(
            "key.add",
            f"{client_id} v{version}",
            after={"fingerprint": added.fingerprint, "status": ACTIVE},
        )
        uow.commit()
    return added


def retire_client_key(
    sessions: AdminSessions, client_id: str, version: int, *, now: datetime
) -> ClientKeyRecord:
    """Retire one key version: requests signed with it answer KEY_NOT_FOUND from now on."""
    with sessions() as uow:
        _existing_client(uow.admin, client_id)
        key = _key_version(uow.admin, client_id, version)
        if key.status == RETIRED:
            raise AdminError(f"key version {version} of client {client_id!r} is already retired")
        uow.admin.retire_client_key(client_id, version, now)
        retired = _key_version(uow.admin, client_id, version)
        uow.note(
            "key.retire",
            f"{client_id} v{version}",
            before={"status": key.status},
            after={"status": retired.status},
        )
        uow.commit()
    return retired


def _key_version(repo: AdminRepository, client_id: str, version: int) -> ClientKeyRecord:
    for key in repo.client_keys(client_id):
        if key.key_version == version:
            return key
    raise AdminError(f"client {client_id!r} has no key version {version}")


def list_client_keys(
    sessions: AdminSessions, client_id: str | None = None
) -> Sequence[ClientKeyRecord]:
    """Every key version, of one client or of all, retired ones included."""
    with sessions(read_only=True) as uow:
        if client_id is not None:
            _existing_client(uow.admin, client_id)
        return uow.admin.client_keys(client_id)


# -- merchant links -----------------------------------------------------------------------


def link_merchant(
    sessions: AdminSessions, client_id: str, merchant_id: str, *, now: datetime
) -> MerchantLink:
    """Allow a client to report transactions for a merchant."""
    check_id("merchant id", merchant_id)
    with sessions() as uow:
        _existing_client(uow.admin, client_id)
        if uow.admin.links(client_id, merchant_id):
            raise AdminError(f"client {client_id!r} is already linked to merchant {merchant_id!r}")
        uow.admin.link(client_id, merchant_id, now)
        uow.note("merchant.link", f"{client_id} -> {merchant_id}", after={"linked": True})
        uow.commit()
    return MerchantLink(client_id=client_id, merchant_id=merchant_id, created_at=now)


def unlink_merchant(sessions: AdminSessions, client_id: str, merchant_id: str) -> MerchantLink:
    """Stop a client from reporting for a merchant (its requests answer INVALID_MERCHANT)."""
    with sessions() as uow:
        found = uow.admin.links(client_id, merchant_id)
        if not found:
            raise AdminError(f"client {client_id!r} is not linked to merchant {merchant_id!r}")
        uow.admin.unlink(client_id, merchant_id)
        uow.note(
            "merchant.unlink",
            f"{client_id} -> {merchant_id}",
            before={"linked": True},
            after={"linked": False},
        )
        uow.commit()
    return found[0]


def list_links(
    sessions: AdminSessions, *, client_id: str | None = None, merchant_id: str | None = None
) -> Sequence[MerchantLink]:
    """Client–merchant links, optionally of one client or one merchant."""
    with sessions(read_only=True) as uow:
        return uow.admin.links(client_id, merchant_id)


# -- platform key -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Initialised:
    """What initialisation found or did."""

    platform_key: PlatformKeyRecord
    key_created: bool


def initialise(
    sessions: AdminSessions,
    *,
    migrate: Callable[[], None],
    now: datetime,
    new_key: NewKey = wire.generate_private_key,
) -> Initialised:
    """Bring the schema up to date and make sure a platform signing key exists (idempotent)."""
    migrate()
    with sessions() as uow:
        uow.admin.lock("platform-key")
        active = _active_platform_keys(uow.admin)
        if active:
            return Initialised(platform_key=active[-1], key_created=False)
        created = _create_platform_key(uow.admin, new_key, now)
        uow.commit()
    return Initialised(platform_key=created, key_created=True)


def rotate_platform_key(
    sessions: AdminSessions, *, now: datetime, new_key: NewKey = wire.generate_private_key
) -> PlatformKeyRecord:
    """Create the next platform key version and retire every older one."""
    with sessions() as uow:
        uow.admin.lock("platform-key")
        created = _create_platform_key(uow.admin, new_key, now)
        uow.admin.retire_platform_keys_before(created.key_version)
        uow.note("platform-key.rotate", f"version {created.key_version}", after={"active": True})
        uow.commit()
    return created


def newest_platform_key(sessions: AdminSessions) -> PlatformKeyRecord:
    """The key the server signs its answers with."""
    with sessions(read_only=True) as uow:
        active = _active_platform_keys(uow.admin)
    if not active:
        raise AdminError("there is no active platform key: run `asap-sync init`")
    return active[-1]


def _active_platform_keys(repo: AdminRepository) -> list[PlatformKeyRecord]:
    keys = sorted(repo.platform_keys(), key=lambda k: k.key_version)
    return [k for k in keys if k.status == ACTIVE]


def _create_platform_key(
    repo: AdminRepository, new_key: NewKey, now: datetime
) -> PlatformKeyRecord:
    version = max((k.key_version for k in repo.platform_keys()), default=0) + 1
    private = new_key()
    public_b64 = wire.public_key_base64(private.public_key())
    repo.add_platform_key(version, wire.private_key_pem(private), public_b64, now)
    return PlatformKeyRecord(
        key_version=version, status=ACTIVE, public_key_b64=public_b64, created_at=now
    )


# -- what to watch ------------------------------------------------------------------------


def recent_rejections(sessions: AdminSessions, which: ActivityFilter) -> Sequence[RejectionRecord]:
    """The newest rejected requests, newest first."""
    _check_limit(which)
    with sessions(read_only=True) as uow:
        return uow.admin.rejections(which)


def recent_transactions(
    sessions: AdminSessions, which: ActivityFilter
) -> Sequence[TransactionRecord]:
    """The newest accepted transactions with their commission, newest first."""
    _check_limit(which)
    with sessions(read_only=True) as uow:
        return uow.admin.transactions(which)


def _check_limit(which: ActivityFilter) -> None:
    if which.limit < 1:
        raise AdminError(f"limit must be 1 or more, not {which.limit}")
