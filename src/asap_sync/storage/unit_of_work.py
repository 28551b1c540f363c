"""The unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Self

from sqlalchemy import Connection, Engine

from asap_sync.storage.engine import write_lock
from asap_sync.storage.syncs import SqlSyncRepository


class SqlUnitOfWork:
    """Implements :class:`asap_sync.service.ports.UnitOfWork` on an engine."""

    syncs: SqlSyncRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._committed = False
        self._lock: AbstractContextManager[None] = write_lock(engine)

    def __enter__(self) -> Self:
        self._lock.__enter__()
        try:
            self._conn = self._engine.connect()
            self._conn.begin()
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

    def commit(self) -> None:
        """Make everything written in this unit durable."""
        assert self._conn is not None
        try:
            self._conn.commit()
        except BaseException:
            # Never hand a connection with a half-finished transaction back to the pool.
            self._conn.invalidate()
            raise
        self._committed = True
