"""Units of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, Self

from sqlalchemy import Connection, Engine

from asap_sync.service.journal import Actor, UnattributedChange
from asap_sync.storage.activity import append_change
from asap_sync.storage.engine import READ_ONLY, write_lock


class ConnectionUnit:
    """The transaction of a unit of work; subclasses attach their repositories in ``_opened``.

    A writing unit on SQLite queues on the process's and the database's write lock before it
    begins (see :func:`asap_sync.storage.engine.write_lock`); a read-only unit begins without
    taking SQLite's write lock.

    A unit opened for an :class:`Actor` logs the changes its use case makes with
    :meth:`note`: the activity entry is written on this unit's connection, so it commits or
    rolls back with the change. A unit without an actor refuses to note a change, so a use
    case reached without one fails before it commits anything.
    """

    def __init__(
        self, engine: Engine, *, read_only: bool = False, actor: Actor | None = None
    ) -> None:
        self._engine, self._read_only, self.actor = engine, read_only, actor
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

    def note(
        self,
        action: str,
        subject: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Log a change of this unit in the activity log, in this unit's transaction."""
        assert self._conn is not None and not self._read_only
        if self.actor is None:
            raise UnattributedChange(f"{action} {subject} has no actor to log it under")
        append_change(self._conn, self.actor.change(action, subject, before=before, after=after))

    def commit(self) -> None:
        """Make everything written in this unit durable."""
        assert self._conn is not None
        try:
            self._conn.commit()
        except BaseException:
            # Never hand a connection with a half-finished transaction back to the pool.
            self._conn.invalidate()
            raise
