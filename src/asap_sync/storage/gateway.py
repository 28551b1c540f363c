"""Reads of the gateway checks (clients, keys, platform key) and the rejection log."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, bindparam, insert, select

from asap_sync.storage.engine import READ_ONLY, write_lock
from asap_sync.storage.tables import (
    client_keys,
    clients,
    directory_version,
    platform_keys,
    rejections,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientKeys:
    """A client's status and its active public keys by version."""

    client_id: str
    active: bool
    keys: dict[int, str]  # active versions only, PEM

    def key(self, version: int | None) -> tuple[int, str] | None:
        """The key of that version, or the newest active key when no version is given."""
        if version is None:
            if not self.keys:
                return None
            newest = max(self.keys)
            return newest, self.keys[newest]
        pem = self.keys.get(version)
        return None if pem is None else (version, pem)


@dataclass(frozen=True, kw_only=True, slots=True)
class PlatformKey:
    """The platform's signing key pair."""

    key_version: int
    private_key_pem: str
    public_key_b64: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Rejection:
    """A rejected request as the operator sees it."""

    received_at: datetime
    code: str
    context: str
    client_id: str | None = None
    merchant_id: str | None = None
    request_id: str | None = None
    out_trans_id: str | None = None


MAX_CACHED_CLIENTS = 10_000


class DirectoryChanged(Exception):
    """Clients, keys or platform keys changed since the gateway decided: decide again."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DirectorySnapshot:
    """What the gateway decides with, and the directory version it belongs to."""

    version: int | None
    client: ClientKeys | None
    platform: PlatformKey | None
    confirmed: bool


_DIRECTORY_VERSION = select(directory_version.c.version).where(directory_version.c.id == 1)


def read_directory_version(conn: Connection) -> int | None:
    """The version of clients, keys, links and contracts, as this connection sees it."""
    version = conn.execute(_DIRECTORY_VERSION).scalar()
    return None if version is None else int(version)


# One statement: the status and the active keys come from the same snapshot.
_CLIENT_KEYS = (
    select(clients.c.status, client_keys.c.key_version, client_keys.c.public_key_pem)
    .select_from(
        clients.outerjoin(
            client_keys,
            and_(client_keys.c.client_id == clients.c.client_id, client_keys.c.status == "active"),
        )
    )
    .where(clients.c.client_id == bindparam("client_id"))
)
_PLATFORM_KEY = (
    select(platform_keys)
    .where(platform_keys.c.status == "active")
    .order_by(platform_keys.c.key_version.desc())
    .limit(1)
)


class GatewayStore:
    """Reads on a read-only connection; writes of rejections in their own transaction.

    What the gateway reads is cached per process and trusted only while the database's
    directory version (bumped by triggers on every change to clients, client keys and
    platform keys) stands still. The write transaction of a sync checks that version (see
    ``SqlUnitOfWork``), so a key retired by any means stops verifying on the very next
    request, without a read of its own on the hot path.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._version: int | None = None
        self._clients: dict[str, ClientKeys | None] = {}
        self._platform: PlatformKey | None = None

    def snapshot(self, client_id: str | None, *, fresh: bool = False) -> DirectorySnapshot:
        """The client (with its active keys; None if unknown) and the platform key.

        From the cache when it holds them (``confirmed`` is then False: whoever answers from
        it must check the version in its own transaction, or with :meth:`changed_since`),
        else read at one directory version (``confirmed`` True).
        """
        if not fresh:
            with self._lock:
                if (
                    self._version is not None
                    and self._platform is not None
                    and (client_id is None or client_id in self._clients)
                ):
                    client = None if client_id is None else self._clients[client_id]
                    return DirectorySnapshot(
                        version=self._version,
                        client=client,
                        platform=self._platform,
                        confirmed=False,
                    )
        with self._reader() as conn:
            version = read_directory_version(conn)
            client = None if client_id is None else self._client_keys(conn, client_id)
            platform = self._platform_key(conn)
        self._remember(version, client_id, client, platform)
        return DirectorySnapshot(version=version, client=client, platform=platform, confirmed=True)

    def changed_since(self, version: int | None) -> bool:
        """True when clients, keys or platform keys changed after ``version`` was read."""
        with self._reader() as conn:
            return read_directory_version(conn) != version

    def _remember(
        self,
        version: int | None,
        client_id: str | None,
        client: ClientKeys | None,
        platform: PlatformKey | None,
    ) -> None:
        with self._lock:
            if version is None:
                return
            if version != self._version:
                self._version, self._platform = version, None
                self._clients.clear()
            if client_id is not None:
                if len(self._clients) >= MAX_CACHED_CLIENTS:
                    self._clients.clear()
                self._clients[client_id] = client
            self._platform = platform

    def client_keys(self, client_id: str) -> ClientKeys | None:
        """The client and its active keys, or None for an unknown client."""
        with self._reader() as conn:
            return self._client_keys(conn, client_id)

    def platform_key(self) -> PlatformKey | None:
        """The newest active platform key."""
        with self._reader() as conn:
            return self._platform_key(conn)

    def _reader(self) -> Connection:
        conn = self._engine.connect()
        if conn.dialect.name == "postgresql":
            # Each read is one statement: no BEGIN/ROLLBACK round trips are needed.
            return conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn.execution_options(**{READ_ONLY: True})

    @staticmethod
    def _client_keys(conn: Connection, client_id: str) -> ClientKeys | None:
        rows = conn.execute(_CLIENT_KEYS, {"client_id": client_id}).all()
        if not rows:
            return None
        return ClientKeys(
            client_id=client_id,
            active=rows[0].status == "active",
            keys={int(r.key_version): r.public_key_pem for r in rows if r.key_version is not None},
        )

    @staticmethod
    def _platform_key(conn: Connection) -> PlatformKey | None:
        row: Row[Any] | None = conn.execute(_PLATFORM_KEY).first()
        if row is None:
            return None
        return PlatformKey(
            key_version=row.key_version,
            private_key_pem=row.private_key_pem,
            public_key_b64=row.public_key_b64,
        )

    def record_rejection(self, rejection: Rejection) -> None:
        """Keep a rejection for the operator, outside the transaction ledger."""
        self.record_rejections([rejection])

    def record_rejections(self, batch: list[Rejection]) -> None:
        """Keep several rejections in one transaction."""
        rows = [
            {
                "received_at": r.received_at,
                "client_id": r.client_id,
                "merchant_id": r.merchant_id,
                "request_id": r.request_id,
                "out_trans_id": r.out_trans_id,
                "code": r.code,
                "context": r.context,
            }
            for r in batch
        ]
        with write_lock(self._engine), self._engine.begin() as conn:
            conn.execute(insert(rejections), rows)
