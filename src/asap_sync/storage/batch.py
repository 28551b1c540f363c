"""Group commit: the syncs waiting in one process share a transaction and its fsync.

SQLite writes one transaction at a time, and with ``synchronous=FULL`` every commit waits for
the disk. A request thread that finds the writer busy queues its unit of work; whichever
thread next becomes the writer runs every queued unit in one transaction, each under its own
savepoint (a rejection rolls back its own savepoint and nothing else), commits once, and only
then releases the answers. Nothing is answered before it is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import Connection, Engine

from asap_sync.storage.engine import write_lock
from asap_sync.storage.gateway import DirectoryChanged, read_directory_version
from asap_sync.storage.syncs import MerchantDirectory, SqlSyncRepository

MAX_BATCH = 64
CONCURRENT_BATCHES = 4  # per process, on PostgreSQL

UnitFactory = Callable[[], "SavepointUnitOfWork"]


class SavepointUnitOfWork:
    """A unit of work inside the batch's transaction: a savepoint, released on commit.

    The savepoint statements go straight to the driver: SQLAlchemy's nested-transaction
    bookkeeping cost as much per sync as two of its queries, and nothing here needs it.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        current: int | None,
        expected: int | None,
        directory: MerchantDirectory,
    ) -> None:
        self._conn, self._current, self._expected = conn, current, expected
        self._open = False
        self.syncs = SqlSyncRepository(conn, directory=directory, directory_version=current)

    def _driver(self, sql: str) -> None:
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    def __enter__(self) -> Self:
        if self._expected is not None and self._expected != self._current:
            raise DirectoryChanged
        self._driver("SAVEPOINT sync_unit")
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._open:
            self._open = False
            self._driver("ROLLBACK TO SAVEPOINT sync_unit")
            self._driver("RELEASE SAVEPOINT sync_unit")

    def commit(self) -> None:
        """Keep this unit's writes; they become durable when the batch commits."""
        self._driver("RELEASE SAVEPOINT sync_unit")
        self._open = False


@dataclass(eq=False)
class _Job:
    work: Callable[[UnitFactory], Any]
    expected_version: int | None
    done: bool = False
    value: Any = None
    error: BaseException | None = None


class BatchWriter:
    """Implements :class:`asap_sync.service.ports.Writer`: many units to a transaction."""

    def __init__(
        self, engine: Engine, *, max_batch: int = MAX_BATCH, writers: int | None = None
    ) -> None:
        """``writers``: batches written at once by this process (default: 1 on SQLite, which
        has one writer whatever we do; several on PostgreSQL, which orders them itself)."""
        self._engine, self._max_batch = engine, max_batch
        self._queue: list[_Job] = []
        self._queue_lock = threading.Lock()
        if writers is None:
            writers = 1 if engine.dialect.name == "sqlite" else CONCURRENT_BATCHES
        # Held by the threads that write the current batches.
        self._writer = threading.BoundedSemaphore(writers)
        self._directory = MerchantDirectory()

    def run(self, expected_version: int | None, work: Callable[[UnitFactory], Any]) -> Any:
        """Run ``work(unit_factory)`` in a batch; return its value once the batch is durable,
        or raise what it raised (or what the commit raised)."""
        job = _Job(work, expected_version)
        with self._queue_lock:
            self._queue.append(job)
        while not job.done:
            with self._writer:
                if job.done:
                    break
                with self._queue_lock:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                self._write(batch)
        if job.error is not None:
            raise job.error
        return job.value

    def _write(self, batch: list[_Job]) -> None:
        try:
            with write_lock(self._engine), self._engine.connect() as conn:
                try:
                    conn.begin()
                    current = read_directory_version(conn)
                    for job in batch:
                        _run_one(conn, job, current, self._directory)
                    conn.commit()
                except BaseException:
                    # Never hand a connection with a half-finished transaction back to the pool.
                    conn.invalidate()
                    raise
        except BaseException as exc:  # nothing of the batch is durable
            for job in batch:
                job.error = exc
        finally:
            for job in batch:
                job.done = True


def _run_one(
    conn: Connection, job: _Job, current: int | None, directory: MerchantDirectory
) -> None:
    def factory() -> SavepointUnitOfWork:
        return SavepointUnitOfWork(
            conn, current=current, expected=job.expected_version, directory=directory
        )

    try:
        job.value = job.work(factory)
    except Exception as exc:  # the job's own savepoint has been rolled back
        job.error = exc
