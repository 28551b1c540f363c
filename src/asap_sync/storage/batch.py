"""Group commit: the syncs waiting in one process share a transaction and its fsync.

SQLite writes one transaction at a time, and with ``synchronous=FULL`` every commit waits for
the disk. A request thread that finds the writer busy queues its unit of work; whichever
thread next becomes the writer runs every queued unit in one transaction, each under its own
savepoint (a rejection rolls back its own savepoint and nothing else), commits once, and only
then releases the answers. Nothing is answered before it is durable.

On PostgreSQL the syncs that come with a fast path (:class:`asap_sync.service.ports.FastPath`)
and whose merchant is cached at their directory version are first written as planned
statements and committed, all in one round trip (:mod:`asap_sync.storage.planned`). The rest,
and those whose preconditions did not hold, then run the ordinary way in a second
transaction. If a planned statement fails, none of them is committed and the whole batch runs
the ordinary way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import Connection, Engine

from asap_sync.service.observer import NULL_OBSERVER, Observer
from asap_sync.service.ports import FastPath
from asap_sync.storage.engine import write_lock
from asap_sync.storage.gateway import DirectoryChanged, read_directory_version
from asap_sync.storage.planned import PlannedRow, commit_planned, planned_row
from asap_sync.storage.syncs import MerchantDirectory, NotCached, SqlSyncRepository

log = logging.getLogger("asap_sync.batch")

MAX_BATCH = 64

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
    fast: FastPath[Any] | None = None
    planned: PlannedRow | None = None
    done: bool = False
    value: Any = None
    error: BaseException | None = None


class BatchWriter:
    """Implements :class:`asap_sync.service.ports.Writer`: many units to a transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = MAX_BATCH,
        writers: int = 1,
        planned: bool | None = None,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        """``writers``: batches written at once by this process. One by default: on SQLite
        there is one writer whatever we do; on PostgreSQL, whose planned batches cost one
        round trip, a single writer makes the largest batches, and measured faster than two
        or four (docs/performance.md).
        ``planned``: take fast paths as planned statements (default, and only possible: on
        PostgreSQL)."""
        self._engine, self._max_batch = engine, max_batch
        postgres = engine.dialect.name == "postgresql"
        if planned and not postgres:
            raise ValueError("planned statements need PostgreSQL")
        self._planned = postgres if planned is None else planned
        self._queue: list[_Job] = []
        self._queue_lock = threading.Lock()
        # Held by the threads that write the current batches.
        self._writer = threading.BoundedSemaphore(writers)
        # The planned writes' driver connections, kept out of the pool between batches:
        # a checkout and its reset cost as much as building a batch's statement.
        self._drivers: list[Any] = []
        self._directory = MerchantDirectory()
        self._observer = observer

    def run(
        self,
        expected_version: int | None,
        work: Callable[[UnitFactory], Any],
        *,
        fast: FastPath[Any] | None = None,
    ) -> Any:
        """Run ``work(unit_factory)`` (or take ``fast``) in a batch; return its value once the
        batch is durable, or raise what it raised (or what the commit raised)."""
        job = _Job(work, expected_version, fast)
        if self._planned:
            # Planned here, in the request's own thread: the batch's writer only sends.
            job.planned = self._plan(job)
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
        rest = batch
        try:
            with self._observer.step("batch_write", size=len(batch)):
                if self._planned:
                    rest = self._write_planned(batch)
                if rest:
                    self._transaction(rest)
            self._observer.batch_written(size=len(batch))
        except BaseException as exc:  # nothing of the rest is durable
            self._observer.database_error(operation="batch_write")
            for job in rest:
                job.error = exc
        finally:
            for job in batch:
                job.done = True

    def _transaction(self, batch: list[_Job]) -> None:
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

    def _plan(self, job: _Job) -> PlannedRow | None:
        """The job's planned row, if its fast path applies."""
        if job.fast is None or job.expected_version is None:
            return None
        try:
            plan = job.fast.plan(self._directory.at(job.expected_version))
        except NotCached:  # the ordinary way reads and caches it
            return None
        except Exception:
            log.exception("could not plan a sync; it takes the ordinary way")
            return None
        return None if plan is None else planned_row(plan, job.expected_version)

    def _write_planned(self, batch: list[_Job]) -> list[_Job]:
        """Write and commit the planned jobs; the jobs left to run the ordinary way."""
        planned: list[tuple[_Job, PlannedRow]] = []
        bindings: set[tuple[str, str]] = set()
        transactions: set[tuple[str, str]] = set()
        for job in batch:
            row = job.planned
            # A second sync with the same key waits for the ordinary way, after the first.
            if row is None or row.binding_key in bindings or row.transaction_key in transactions:
                continue
            bindings.add(row.binding_key)
            transactions.add(row.transaction_key)
            planned.append((job, row))
        if not planned:
            return batch
        try:
            written = self._commit_planned([row for _, row in planned])
        except Exception as exc:
            # A concurrent twin, or a failure: nothing was committed (or, if the connection
            # broke during COMMIT, the ordinary way finds the bindings and answers replays).
            log.info("planned writes rolled back, the batch takes the ordinary way: %r", exc)
            for _ in planned:
                self._observer.redecided(reason="planned_rolled_back")
            return batch
        done = set()
        for (job, _), ok in zip(planned, written, strict=True):
            if ok:
                assert job.fast is not None
                job.value = job.fast.value
                done.add(job)
            else:  # a precondition of its plan no longer held
                self._observer.redecided(reason="precondition_failed")
        return [job for job in batch if job not in done]

    def _commit_planned(self, rows: list[PlannedRow]) -> list[bool]:
        with self._queue_lock:
            driver = self._drivers.pop() if self._drivers else None
        if driver is None:
            driver = self._engine.raw_connection()
        try:
            written = commit_planned(driver.dbapi_connection, rows)
        except BaseException:
            driver.invalidate()  # its state is unknown: never used again
            driver.close()
            raise
        with self._queue_lock:
            self._drivers.append(driver)
        return written


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
