"""Checking and signing bulk rows in worker processes, ahead of sending.

Parsing a row, checking it with the platform's rules and RSA-signing it hold the GIL, so
threads cannot spread them over the cores: that capped a bulk send at one core whatever its
concurrency. A pool of processes (one per core) turns chunks of raw records into
:class:`Prepared` rows (the body and its signed headers, the error of a bad row, or a note
that the row succeeded in an earlier run), and the calling process only sends and verifies.

Chunks come back in input order and at most ``ahead`` of them are in flight, so memory stays
flat; workers ignore Ctrl-C (the caller decides what an interruption means) and exit when the
process that started them disappears.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from asap_sync import wire
from asap_sync.client._protocol import Clock, Credentials, Outbound
from asap_sync.client._results import SuccessIndex
from asap_sync.client._rows import RawRecord, RowFile, row_from_record

CHUNK_ROWS = 256


@dataclass(frozen=True, kw_only=True, slots=True)
class Prepared:
    """One row out of a worker: ready to send, bad (``error``) or done before (``skipped``)."""

    line: int
    request_id: str | None
    out_trans_id: str | None
    error: str | None = None
    skipped: bool = False
    body: bytes | None = None
    headers: dict[str, str] | None = None

    def outbound(self, signed_at: datetime) -> Outbound:
        assert self.body is not None and self.request_id and self.out_trans_id
        return Outbound(
            request_id=self.request_id,
            out_trans_id=self.out_trans_id,
            body=self.body,
            headers=self.headers,
            signed_at=signed_at,
        )


def prepare_records(
    records: Iterable[RawRecord],
    done: dict[int, int],
    request_time: str,
    credentials: Credentials,
) -> list[Prepared]:
    """Check, serialise and sign each record; ``done`` marks rows that succeeded before."""
    prepared = []
    for line, raw in records:
        row = row_from_record(line, raw)
        body = headers = None
        skipped = row.request is not None and SuccessIndex.succeeded_in(done, line, row.request_id)
        if row.request is not None and not skipped:
            body = wire.dump_sync_body(row.request)
            headers = credentials.signed_headers(body, request_time)
        prepared.append(
            Prepared(
                line=line,
                request_id=row.request_id,
                out_trans_id=row.out_trans_id,
                error=row.error,
                skipped=skipped,
                body=body,
                headers=headers,
            )
        )
    return prepared


_worker_credentials: Credentials | None = None


def _start_worker(client_id: str, private_pem: str, platform_pem: str, key_version: str) -> None:
    global _worker_credentials
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_credentials = Credentials.load(
        client_id=client_id,
        private_key=private_pem,
        platform_public_key=platform_pem,
        key_version=key_version,
    )
    parent = os.getppid()
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    # A killed bulk sender cannot shut its pool down; its workers must not linger.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _prepare_in_worker(
    records: list[RawRecord], done: dict[int, int], request_time: str
) -> list[Prepared]:
    assert _worker_credentials is not None, "worker not initialised"
    return prepare_records(records, done, request_time, _worker_credentials)


@contextlib.contextmanager
def presigned(
    source: RowFile,
    credentials: Credentials,
    index: SuccessIndex,
    *,
    clock: Clock,
    processes: int,
) -> Iterator[Iterator[tuple[Prepared, datetime]]]:
    """The prepared rows of ``source`` in input order, each with the instant it was signed.

    A file of one chunk or less is prepared in this process: no pool is worth starting.
    """
    chunks = _chunks(source.records(), CHUNK_ROWS)
    head = list(itertools.islice(chunks, 2))
    context = _context()
    if len(head) < 2 or processes < 2 or context is None:
        yield _in_process(itertools.chain(head, chunks), credentials, index, clock)
        return
    pool = ProcessPoolExecutor(
        processes,
        mp_context=context,
        initializer=_start_worker,
        initargs=(
            credentials.client_id,
            wire.private_key_pem(credentials.private_key),
            wire.public_key_pem(credentials.platform_public_key),
            credentials.key_version,
        ),
    )
    try:
        yield _in_pool(pool, itertools.chain(head, chunks), index, clock, ahead=2 * processes)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_process(
    chunks: Iterable[list[RawRecord]], credentials: Credentials, index: SuccessIndex, clock: Clock
) -> Iterator[tuple[Prepared, datetime]]:
    for chunk in chunks:
        signed_at = clock()
        done = index.marks(line for line, _ in chunk)
        request_time = wire.format_response_time(signed_at)
        for prepared in prepare_records(chunk, done, request_time, credentials):
            yield prepared, signed_at


def _in_pool(
    pool: ProcessPoolExecutor,
    chunks: Iterable[list[RawRecord]],
    index: SuccessIndex,
    clock: Clock,
    *,
    ahead: int,
) -> Iterator[tuple[Prepared, datetime]]:
    window: deque[tuple[Future[list[Prepared]], datetime]] = deque()
    chunks = iter(chunks)
    while True:
        while len(window) < ahead and (chunk := next(chunks, None)) is not None:
            signed_at = clock()
            done = index.marks(line for line, _ in chunk)
            request_time = wire.format_response_time(signed_at)
            window.append((pool.submit(_prepare_in_worker, chunk, done, request_time), signed_at))
        if not window:
            return
        future, signed_at = window.popleft()
        for prepared in future.result():
            yield prepared, signed_at


def _chunks(records: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    while chunk := list(itertools.islice(records, size)):
        yield chunk


def _context() -> multiprocessing.context.BaseContext | None:
    # Only fork leaves the caller's __main__ alone: spawn and forkserver re-run a script in
    # every worker, so a script without a __main__ guard would bulk-send again from each. The
    # pool starts before any sender thread exists; workers touch no lock of the caller's.
    # Elsewhere (macOS, Windows) rows are signed in the calling process.
    if sys.platform != "linux":
        return None
    return multiprocessing.get_context("fork")
