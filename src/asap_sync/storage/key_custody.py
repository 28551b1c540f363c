"""Custody of the platform's private signing key: where it lives and who may read it.

The SQLite database holds the platform key by default, so its files are the owner's alone
(0600, in a 0700 data directory). The key may instead live outside the database, in a file
(refused unless only its owner can read it) or in an environment variable. Whatever its
source, a worker loads the key when it starts and holds it: an answer is signed even while
the database is down (SPEC §2.1).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from asap_sync.storage.file_modes import CustodyError
from asap_sync.storage.gateway import PlatformKey
from asap_sync.wire import KeyFormatError, load_private_key, public_key_base64

log = logging.getLogger("asap_sync.custody")

DATABASE_SOURCE = "database"


def _owner_only_file(path: Path) -> str:
    try:
        info = path.stat()
    except OSError as exc:
        raise CustodyError(f"platform key file {path}: {exc.strerror}") from exc
    if info.st_mode & 0o077:
        raise CustodyError(
            f"platform key file {path} is readable by others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 it"
        )
    if info.st_uid != os.geteuid():
        raise CustodyError(f"platform key file {path} is not owned by the user running the server")
    return path.read_text(encoding="ascii")


def _from_pem(pem: str, version: int, where: str) -> PlatformKey:
    try:
        private = load_private_key(pem)
    except KeyFormatError as exc:
        raise CustodyError(f"platform key from {where} is not an RSA private key") from exc
    return PlatformKey(
        key_version=version,
        private_key_pem=pem,
        public_key_b64=public_key_base64(private.public_key()),
    )


class PlatformKeys:
    """The key answers are signed with, held from the worker's start.

    With the database as the source, the newest active key the database shows is used (a
    rotation takes effect on the next answer) and the last one seen is held for when the
    database cannot be read. With a file or an environment variable, that key is always used.
    """

    def __init__(self, held: PlatformKey, *, follows_database: bool) -> None:
        self._held, self._follows_database = held, follows_database
        self._lock = threading.Lock()

    @property
    def held(self) -> PlatformKey:
        """The key held in memory."""
        return self._held

    def choose(self, from_database: PlatformKey | None) -> PlatformKey:
        """The key for this answer, given what the database showed (None: nothing, or down)."""
        if not self._follows_database or from_database is None:
            return self._held
        if from_database is not self._held:
            with self._lock:
                self._held = from_database
        return from_database


def load_platform_keys(
    source: str,
    *,
    version: int,
    database_key: Callable[[], PlatformKey | None],
    environ: Mapping[str, str],
) -> PlatformKeys:
    """Load the key the settings name: ``database``, ``file:<path>`` or ``env:<VARIABLE>``."""
    kind, _, where = source.partition(":")
    if source == DATABASE_SOURCE:
        key = database_key()
        if key is None:
            raise CustodyError("no active platform key in the database: run `asap-sync init`")
        return PlatformKeys(key, follows_database=True)
    if kind == "file" and where:
        return PlatformKeys(
            _from_pem(_owner_only_file(Path(where)), version, where), follows_database=False
        )
    if kind == "env" and where:
        pem = environ.get(where, "")
        if not pem.strip():
            raise CustodyError(f"platform key variable {where} is not set")
        return PlatformKeys(_from_pem(pem, version, f"variable {where}"), follows_database=False)
    raise CustodyError(
        f"platform key source {source!r}: use database, file:<path> or env:<VARIABLE>"
    )
