"""Ingestion with group commit: the syncs waiting in one process are decided and written as one
batch, and answered once that batch is durable.

Syncs arrive in two ways. On the server, the event loop queues each sync with
:meth:`Ingestor.enqueue` and awaits its answer, and one writer thread per process drains the
queue: while it waits on the database, the loop goes on verifying and parsing, and what queues
meanwhile is the next batch. Its answers go back to the loop once per batch, not once per sync.
A synchronous caller (:meth:`Ingestor.submit_all`, the settlement tests and tools) queues its
syncs and takes its turn as the writer itself. Either way the writer of the moment takes every
queued sync (up to ``max_batch``) and, for the batch:

1. reads what the ledger holds for the batch's keys, with the directory version
   (:meth:`~asap_sync.service.ports.Ledger.read`), and the merchants' contracts at that version;
2. decides every sync with :func:`~asap_sync.service.decide.decide_batch` (pure);
3. applies the write plan in one transaction (:meth:`~asap_sync.service.ports.Ledger.apply`);
4. answers the decided syncs, and queues again, at the front, the deferred ones and those whose
   preconditions no longer held when the plan was applied: they are decided again on what the
   ledger holds now, never answered from the stale decision.

**Group commit waits for the syncs on their way.** Much of a batch's cost is the same whatever
its size (its transaction, its statements, its commit, the hand-over of its answers), so under
load the writer should not take a batch of one while other requests of its process are being
verified and parsed. Before each batch, while fewer syncs are queued than half the requests in
flight in its process (:class:`InFlight`, counted by the HTTP pipeline), the writer waits for
them, up to ``batch_wait`` seconds (2 ms by default). Half, not all: the other half keeps the
event loop busy while the batch is written, where waiting for every request would leave the
loop idle during each write. A lone request never waits: with nothing else in flight the writer
takes it at once. (PostgreSQL's ``commit_delay`` with ``commit_siblings`` is the same idea.)
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from asap_sync.domain.errors import RuleViolation
from asap_sync.service.decide import (
    AcceptPolicy,
    Answer,
    Pending,
    PendingSync,
    decide_batch,
    keys_of,
    links_of,
)
from asap_sync.service.observer import NULL_OBSERVER, Observer
from asap_sync.service.ports import Ledger, MerchantContracts

log = logging.getLogger("asap_sync.ingest")

MAX_BATCH = 64
BATCH_WAIT_SECONDS = 0.002  # the longest a writer waits for syncs on their way
_LOOK_EVERY_SECONDS = 0.00025  # how often a waiting writer looks at its queue
MAX_CONTENDED = 16  # rounds a sync may lose to writes of other processes before giving up
IDLE_CHECK_SECONDS = 1.0  # how often an idle writer looks whether its ingestor is still used


def _answer(job: _Job) -> Answer:
    assert job.answer is not None
    return job.answer


class Contended(Exception):
    """A sync kept losing its preconditions to other writers; the client retries it."""


@dataclass(eq=False)
class _Job:
    sync: PendingSync
    contended: int = 0
    done: bool = False
    answer: Answer | None = None
    error: BaseException | None = None
    future: asyncio.Future[Answer] | None = None  # an event loop awaits it
    context: contextvars.Context | None = None  # the awaiting request's (its id, its trace)


def _settle(jobs: list[_Job]) -> None:
    """On the loop: hand each finished job's answer (or failure) to its awaiting request."""
    for job in jobs:
        future = job.future
        assert future is not None
        if future.done():  # the request was cancelled (its client left)
            continue
        if job.error is not None:
            future.set_exception(job.error)
        else:
            future.set_result(_answer(job))


class InFlight:
    """How many requests a process is answering right now (entered, not yet answered). The
    event loop counts; the writer thread reads (an int read is atomic)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1


@dataclass
class Ingestor:
    """Decides and writes syncs in batches (see the module documentation)."""

    ledger: Ledger
    directory: MerchantContracts
    policy: AcceptPolicy
    max_batch: int = MAX_BATCH
    observer: Observer = NULL_OBSERVER
    in_flight: InFlight | None = None  # the process's requests, when a server counts them
    batch_wait: float = BATCH_WAIT_SECONDS
    _queue: list[_Job] = field(default_factory=list)
    _queue_lock: threading.Lock = field(default_factory=threading.Lock)
    _writer: threading.Lock = field(default_factory=threading.Lock)
    _work: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _closing: bool = False

    async def enqueue(self, sync: PendingSync) -> Answer:
        """From an event loop: the sync's answer once everything it wrote is durable (as
        :meth:`submit`; a failure to write is raised)."""
        job = _Job(
            sync,
            future=asyncio.get_running_loop().create_future(),
            context=contextvars.copy_context(),
        )
        with self._queue_lock:
            if self._closing:
                raise RuntimeError("the ingestor is closed")
            self._queue.append(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=_writer,
                    args=(weakref.ref(self), self._work),
                    name="asap-sync-writer",
                    daemon=True,
                )
                self._thread.start()
        if not self._work.is_set():  # the writer may be waiting: wake it
            self._work.set()
        assert job.future is not None
        return await job.future

    def close(self) -> None:
        """Stop the writer thread once the queue is empty (what is queued is still written)."""
        with self._queue_lock:
            self._closing = True
            thread = self._thread
        self._work.set()
        if thread is not None:
            thread.join()

    def _drain(self) -> bool:
        """Write batches while syncs are queued; False once the queue is found empty.

        The wake-up flag stays set while the writer writes, so a sync queued meanwhile costs no
        wake-up; it is cleared only when the queue is found empty (and the queue looked at once
        more, so that a sync queued in between is not left waiting)."""
        while True:
            with self._queue_lock:
                empty = not self._queue
            if empty:
                self._work.clear()
                with self._queue_lock:
                    if not self._queue:
                        return not self._closing
                continue
            try:
                self._wait_for_arrivals()
                with self._writer:
                    self._write_next()
            except Exception:  # never lose the writer: its waiting syncs would hang
                log.exception("the writer failed outside a batch; it goes on")

    def _wait_for_arrivals(self) -> None:
        """Before a batch: while fewer syncs are queued than half the requests in flight, give
        the others (being verified and parsed) up to ``batch_wait`` to join the batch."""
        in_flight = self.in_flight
        if in_flight is None or self.batch_wait <= 0:
            return
        deadline = time.monotonic() + self.batch_wait
        while len(self._queue) < min(_half(in_flight.count), self.max_batch):
            if self._closing or time.monotonic() >= deadline:
                return
            time.sleep(_LOOK_EVERY_SECONDS)

    def submit(self, sync: PendingSync) -> Answer:
        """The sync's answer, once everything it wrote is durable. ``Pending.DIRECTORY_MOVED``
        when its gateway checks must be made again; raises when the batch could not be
        written (nothing of it is then durable)."""
        answer = self.submit_all([sync])[0]
        if isinstance(answer, BaseException) and not isinstance(answer, RuleViolation):
            raise answer
        return answer

    def submit_all(self, syncs: Sequence[PendingSync]) -> list[Answer | BaseException]:
        """Like :meth:`submit` for several syncs queued together, in their order; a failure
        to write is returned in place of the answer."""
        jobs = [_Job(sync) for sync in syncs]
        with self._queue_lock:
            self._queue.extend(jobs)
        for job in jobs:
            while not job.done:
                with self._writer:
                    if not job.done:
                        self._write_next()
        return [job.error if job.error is not None else _answer(job) for job in jobs]

    def _write_next(self) -> None:
        """Write the next batch, as part of its first request when an event loop awaits it
        (in that request's context: its trace, its log lines)."""
        with self._queue_lock:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        if not batch:
            return
        context = batch[0].context
        try:
            again = context.run(self._step, batch) if context is not None else self._step(batch)
        except BaseException as exc:
            self.observer.database_error(operation="batch_write")
            for job in batch:
                if not job.done:
                    job.error, job.done = exc, True
            again = []
        with self._queue_lock:
            self._queue[:0] = again
        _notify([job for job in batch if job.done and job.future is not None])

    def _step(self, batch: list[_Job]) -> list[_Job]:
        with self.observer.step("batch_write", size=len(batch)):
            return self._round(batch)

    def _round(self, batch: list[_Job]) -> list[_Job]:
        """Decide and write one batch; the jobs to decide again."""
        syncs = [job.sync for job in batch]
        view = self.ledger.read(keys_of(syncs))
        contracts = self.directory.contracts_at(view.directory_version, links_of(syncs))
        if contracts is None:  # the directory moved between the two reads
            return self._contend(batch)
        decision = decide_batch(view, contracts, syncs, policy=self.policy)
        failed: frozenset[int] = frozenset()
        if decision.plan.syncs:
            failed = self.ledger.apply(decision.plan)
            self.observer.batch_written(size=len(decision.plan.syncs) - len(failed))
        again: list[_Job] = []
        for position, (job, answer) in enumerate(zip(batch, decision.answers, strict=True)):
            if position in failed:
                again.extend(self._contend([job]))
            elif answer is Pending.DEFERRED:
                again.append(job)
            else:
                job.answer, job.done = answer, True
        return again

    def _contend(self, jobs: list[_Job]) -> list[_Job]:
        again = []
        for job in jobs:
            self.observer.redecided(reason="precondition_failed")
            job.contended += 1
            if job.contended < MAX_CONTENDED:
                again.append(job)
            else:
                log.error("gave up on a sync after %d contended rounds", job.contended)
                job.error, job.done = Contended("the sync kept meeting concurrent writes"), True
        return again


def _half(count: int) -> int:
    """Half of ``count``, rounded up."""
    return (count + 1) // 2


def _writer(ingestor: weakref.ref[Ingestor], work: threading.Event) -> None:
    """The writer thread of one ingestor: drains its queue, then waits to be woken. It holds
    the ingestor only while it writes, so an ingestor nobody uses any more (and its database
    connection) can go, and its writer with it."""
    while True:
        current = ingestor()
        if current is None or not current._drain():
            return
        del current
        work.wait(timeout=IDLE_CHECK_SECONDS)


def _notify(jobs: list[_Job]) -> None:
    """One hand-over per event loop for a batch's awaited answers."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
    for job in jobs:
        assert job.future is not None
        by_loop.setdefault(job.future.get_loop(), []).append(job)
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:  # that loop is closed: nobody awaits these answers any more
            log.warning("%d answers were written for a loop that has closed", len(settled))
