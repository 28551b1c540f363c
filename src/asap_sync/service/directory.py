"""The directory: clients and their keys, the platform key, merchant links and contracts.

One database row, the directory version, is bumped by triggers on every change to any of them
(migrations 0003 and 0004). A process caches what it read in one :class:`VersionedCache` per
kind, each valid only at the version it was read at; a request decided from the cache stands
once its version is confirmed (by the ledger read of its batch, or by
:meth:`Directory.changed_since`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from asap_sync.domain.model import Contract
from asap_sync.service.ports import LinkKey

K = TypeVar("K")
V = TypeVar("V")

MAX_CACHED = 10_000


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientKeys:
    """A client's status and its active public keys by version."""

    client_id: str
    active: bool
    keys: Mapping[int, str]  # active versions only, PEM

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
class DirectoryRead:
    """What one read of the directory found, at one version."""

    version: int | None
    clients: Mapping[str, ClientKeys | None]
    contracts: Mapping[LinkKey, Sequence[Contract] | None]
    platform: PlatformKey | None


class DirectoryReader(Protocol):
    """Reads of the directory at one version (storage implements it)."""

    def read(self, client_ids: Iterable[str], links: Iterable[LinkKey]) -> DirectoryRead:
        """The clients, the links' contracts and the platform key, with their version."""
        ...

    def version(self) -> int | None:
        """The directory version now."""
        ...


class VersionedCache(Generic[K, V]):
    """Values read at one directory version; a value of another version is never returned."""

    def __init__(self, limit: int = MAX_CACHED) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._values: dict[K, V] = {}
        self._limit = limit

    @property
    def version(self) -> int | None:
        """The version of what is cached (None: nothing)."""
        return self._version

    def get(self, version: int | None, keys: Iterable[K]) -> dict[K, V] | None:
        """Every key's value at ``version``, or None when one is missing."""
        with self._lock:
            if version is None or version != self._version:
                return None
            found = {}
            for key in keys:
                if key not in self._values:
                    return None
                found[key] = self._values[key]
            return found

    def put(self, version: int | None, values: Mapping[K, V]) -> None:
        """Remember values read at ``version`` (a newer version drops everything older)."""
        if version is None:
            return
        with self._lock:
            if self._version is not None and version < self._version:
                return
            if version != self._version or len(self._values) >= self._limit:
                self._version = version
                self._values.clear()
            self._values.update(values)


@dataclass(frozen=True, kw_only=True, slots=True)
class DirectorySnapshot:
    """What the gateway decides with, and the directory version it belongs to."""

    version: int | None
    client: ClientKeys | None
    platform: PlatformKey | None
    confirmed: bool  # read just now, rather than from the cache


class Directory:
    """The process's directory: cached per version, read through a :class:`DirectoryReader`.

    Implements :class:`asap_sync.service.ports.MerchantContracts` for the ingestor.
    """

    def __init__(self, reader: DirectoryReader) -> None:
        self._reader = reader
        self._clients: VersionedCache[str, ClientKeys | None] = VersionedCache()
        self._contracts: VersionedCache[LinkKey, Sequence[Contract] | None] = VersionedCache()
        self._platform: VersionedCache[str, PlatformKey | None] = VersionedCache(limit=1)

    def snapshot(self, client_id: str | None, *, fresh: bool = False) -> DirectorySnapshot:
        """The client (None if unknown) and the platform key: from the cache unless ``fresh``
        or missing there, else read at one version (``confirmed``)."""
        if not fresh:
            cached = self.cached(client_id)
            if cached is not None:
                return cached
        read = self._load([] if client_id is None else [client_id], [])
        return DirectorySnapshot(
            version=read.version,
            client=None if client_id is None else read.clients[client_id],
            platform=read.platform,
            confirmed=True,
        )

    def cached(self, client_id: str | None) -> DirectorySnapshot | None:
        """The snapshot from the cache alone (no read), or None when it is not all there."""
        version = self._platform.version
        platform = self._platform.get(version, ["platform"])
        clients = self._clients.get(version, [] if client_id is None else [client_id])
        if platform is None or clients is None:
            return None
        client = None if client_id is None else clients[client_id]
        return DirectorySnapshot(
            version=version, client=client, platform=platform["platform"], confirmed=False
        )

    def platform_key(self) -> PlatformKey | None:
        """The newest active platform key (cached at the current version)."""
        return self.snapshot(None).platform

    def changed_since(self, version: int | None) -> bool:
        """True when the directory changed after ``version`` was read."""
        return self._reader.version() != version

    def contracts_at(
        self, version: int | None, links: Iterable[LinkKey]
    ) -> Mapping[LinkKey, Sequence[Contract] | None] | None:
        wanted = list(links)
        cached = self._contracts.get(version, wanted)
        if cached is not None:
            return cached
        read = self._load([], wanted)
        return dict(read.contracts) if read.version == version else None

    def _load(self, client_ids: list[str], links: list[LinkKey]) -> DirectoryRead:
        read = self._reader.read(client_ids, links)
        self._clients.put(read.version, read.clients)
        self._contracts.put(read.version, read.contracts)
        self._platform.put(read.version, {"platform": read.platform})
        return read


PlatformKeyProvider = Callable[[], PlatformKey | None]
