"""The directory cache: values are trusted only at the version they were read at."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from asap_sync.service.directory import (
    ClientKeys,
    Directory,
    DirectoryRead,
    PlatformKey,
    VersionedCache,
)
from asap_sync.service.ports import LinkKey

PLATFORM = PlatformKey(key_version=1, private_key_pem="pem", public_key_b64="b64")


@dataclass
class Reader:
    """A directory whose version and clients the test changes."""

    version_now: int = 1
    active: bool = True
    reads: list[tuple[list[str], list[LinkKey]]] = field(default_factory=list)

    def read(self, client_ids: Iterable[str], links: Iterable[LinkKey]) -> DirectoryRead:
        ids, wanted = list(client_ids), list(links)
        self.reads.append((ids, wanted))
        return DirectoryRead(
            version=self.version_now,
            clients={c: ClientKeys(client_id=c, active=self.active, keys={1: "k"}) for c in ids},
            contracts=dict.fromkeys(wanted, ()),
            platform=PLATFORM,
        )

    def version(self) -> int | None:
        return self.version_now


def test_a_cache_returns_nothing_for_another_version_or_a_missing_key() -> None:
    cache: VersionedCache[str, int] = VersionedCache()
    cache.put(3, {"a": 1})
    assert cache.get(3, ["a"]) == {"a": 1}
    assert cache.get(4, ["a"]) is None
    assert cache.get(3, ["a", "b"]) is None


def test_a_newer_version_drops_what_an_older_one_cached_and_an_older_one_is_ignored() -> None:
    cache: VersionedCache[str, int] = VersionedCache()
    cache.put(3, {"a": 1})
    cache.put(4, {"b": 2})
    cache.put(3, {"c": 3})
    assert cache.get(4, ["b"]) == {"b": 2}
    assert cache.get(4, ["a"]) is None and cache.get(3, ["c"]) is None


def test_the_gateway_snapshot_comes_from_the_cache_until_asked_fresh() -> None:
    reader = Reader()
    directory = Directory(reader)
    first = directory.snapshot("c1")
    assert first.confirmed and first.client is not None and first.client.active
    reader.active = False
    cached = directory.snapshot("c1")
    assert not cached.confirmed and cached.client == first.client
    assert directory.changed_since(cached.version) is False
    reader.version_now = 2
    assert directory.changed_since(cached.version) is True
    fresh = directory.snapshot("c1", fresh=True)
    assert fresh.version == 2 and fresh.client is not None and not fresh.client.active


def test_contracts_are_read_once_per_version_and_refused_when_the_version_moved() -> None:
    reader = Reader()
    directory = Directory(reader)
    link = ("c1", "m1")
    assert directory.contracts_at(1, [link]) == {link: ()}
    assert directory.contracts_at(1, [link]) == {link: ()}
    assert len(reader.reads) == 1
    reader.version_now = 2
    assert directory.contracts_at(1, [("c1", "m2")]) is None  # read at 2, asked at 1
