"""Files holding key material are the owner's alone: the data directory 0700, the SQLite
database and its companions 0600 (the database holds the platform's private key)."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("asap_sync.custody")

SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


class CustodyError(Exception):
    """Key material would be readable by others, or the configured key cannot be loaded."""


def secure_data_dir(path: Path) -> None:
    """Create the data directory 0700, or tighten one that others can enter; refuse if not ours."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_mode & 0o077 == 0:
        return
    if info.st_uid != os.geteuid():
        raise CustodyError(
            f"data directory {path} is open to others (mode {stat.S_IMODE(info.st_mode):04o}) "
            "and not owned by this user: it holds the platform's private key; chmod 700 it"
        )
    os.chmod(path, 0o700)
    log.warning(
        "data directory %s was open to others (mode %04o); tightened to 0700",
        path,
        stat.S_IMODE(info.st_mode),
    )


def secure_database_files(database: Path) -> None:
    """The SQLite file exists 0600 before SQLite opens it (its WAL and SHM copy that mode).

    An existing file is never opened here, only chmod-ed: closing any descriptor of a file
    drops every POSIX lock this process holds on it, SQLite's included, and another process
    would then take this process's open WAL for unused and delete it under its writes.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in SQLITE_COMPANIONS:
        companion = Path(f"{database}{suffix}")
        try:
            if stat.S_IMODE(companion.stat().st_mode) & 0o077:
                os.chmod(companion, 0o600)
        except FileNotFoundError:
            continue
