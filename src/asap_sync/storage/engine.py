"""Engines for SQLite (WAL, synchronous=FULL, one writer at a time) and PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url

from asap_sync.storage.file_modes import secure_database_files

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "asap_read_only"  # execution option: begin without taking SQLite's write lock


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for the URL; SQLite gets the pragmas and write locking it needs."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pool_size)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pre-ping: it costs a round trip per checkout on the hot path; recycled connections
    # and the SYSTEM_ERROR answer (the client retries under the same requestId) cover restarts.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=600)


class _SqliteWriteLock:
    """Queues a process's writers on a thread lock and the processes on an OS file lock.

    SQLite's own busy handler sleeps 1, 2, 5 … 100 ms between tries, which wastes most of
    the time when several workers write; a waiter on these locks wakes up the moment the
    writer before it commits.
    """

    def __init__(self, database: str) -> None:
        self._path = database + "-writelock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_write_locks: dict[str, _SqliteWriteLock] = {}
_write_locks_guard = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[None]:
    """Hold around a write transaction: serialises SQLite writers without busy sleeps."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return nullcontext()
    with _write_locks_guard:
        lock = _write_locks.get(database)
        if lock is None:
            lock = _write_locks[database] = _SqliteWriteLock(database)
    return lock


def _sqlite_engine(url: str, pool_size: int) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        secure_database_files(Path(database))
    # A pool as large as the threads that use it: a connection opened past the pool is closed on
    # return, and opening one costs its pragmas (WAL mode, synchronous, busy timeout).
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the lock up front: a read that later upgrades to a write can deadlock.
        # Connections marked read-only begin deferred and never block writers (WAL).
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
