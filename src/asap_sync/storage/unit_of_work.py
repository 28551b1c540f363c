"""The unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, select

from asap_sync.storage.engine import write_lock
from asap_sync.storage.gateway import DirectoryChanged
from asap_sync.storage.syncs import SqlSyncRepository
from asap_sync.storage.tables import directory_version

T = TypeVar("T")
_DIRECTORY_VERSION = select(directory_version.c.version).where(directory_version.c.id == 1)


class SqlUnitOfWork:
    """Implements :class:`asap_sync.service.ports.UnitOfWork` on an engine."""

    syncs: SqlSyncRepository

    def __init__(self, engine: Engine, *, directory_version: int | None = None) -> None:
        """``directory_version``: the version of clients and keys the caller decided with;
        the transaction refuses to start (:class:`DirectoryChanged`) if it has moved."""
        self._engine = engine
        self._directory_version = directory_version
        self._conn: Connection | None = None
        self._committed = False
        self._lock: AbstractContextManager[None] = write_lock(engine)

    def __enter__(self) -> Self:
        self._lock.__enter__()
        try:
            self._conn = self._engine.connect()
            self._conn.begin()
            if self._directory_version is not None:
                self._check_directory(self._conn)
        except BaseException:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._lock.__exit__(None, None, None)
            raise
        self.syncs = SqlSyncRepository(self._conn)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            if not self._committed:
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None
            self._lock.__exit__(None, None, None)

    def _check_directory(self, conn: Connection) -> None:
        version = conn.execute(_DIRECTORY_VERSION).scalar()
        if version != self._directory_version:
            raise DirectoryChanged

    def commit(self) -> None:
        """Make everything written in this unit durable."""
        assert self._conn is not None
        self._conn.commit()
        self._committed = True


class DirectWriter:
    """Implements :class:`asap_sync.service.ports.Writer` with one transaction per unit
    (PostgreSQL: concurrent transactions, the database orders them)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def run(self, expected_version: int | None, work: Callable[[Callable[[], Any]], T]) -> T:
        """Run ``work`` with a factory of units that each own a transaction."""
        return work(lambda: SqlUnitOfWork(self._engine, directory_version=expected_version))
