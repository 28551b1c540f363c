"""Units of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Self

from sqlalchemy import Connection, Engine

from asap_sync.storage.engine import READ_ONLY, write_lock


class ConnectionUnit:
    """The transaction of a unit of work; subclasses attach their repositories in ``_opened``.

    A writing unit on SQLite queues on the process's and the database's write lock before it
    begins (see :func:`asap_sync.storage.engine.write_lock`); a read-only unit begins without
    taking SQLite's write lock.
    """

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine, self._read_only = engine, read_only
        self._conn: Connection | None = None
        self._lock: AbstractContextManager[None] = (
            nullcontext() if read_only else write_lock(engine)
        )

    def _opened(self, conn: Connection) -> None:
        """Attach repositories to the connection, in the open transaction."""

    def __enter__(self) -> Self:
        self._lock.__enter__()
        try:
            conn = self._engine.connect()
            if self._read_only:
                conn = conn.execution_options(**{READ_ONLY: True})
            self._conn = conn
            conn.begin()
            self._opened(conn)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._close()

    def _close(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
        finally:
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
