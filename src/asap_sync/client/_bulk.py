"""Bulk sending: stream rows, send with bounded concurrency, record and resume.

Rows read from a file by :func:`read_rows` and sent with a :class:`Client` are checked and
signed by a pool of processes (one per core, see ``_presign``): that work holds the GIL, so
threads alone kept a bulk send on one core. Sender threads then only send and verify. Any
other rows or sender take the plain path: each thread signs and sends. Either way the calling
thread alone reads the input and writes the results file, so both stay sequential and memory
stays flat.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from asap_sync import wire
from asap_sync.client._client import Client
from asap_sync.client._errors import SyncError
from asap_sync.client._presign import Prepared, presigned
from asap_sync.client._protocol import SyncResponse
from asap_sync.client._results import SUCCESS, Outcome, ResultsFile, SuccessIndex
from asap_sync.client._rows import Row, RowFile

INVALID_ROW = "INVALID_ROW"
ALREADY_SUCCEEDED = "ALREADY_SUCCEEDED"
UNEXPECTED_ERROR = "UNEXPECTED_ERROR"


_LOCAL_MEANINGS = {
    ALREADY_SUCCEEDED: "skipped: succeeded in an earlier run",
    INVALID_ROW: "not sent: the row breaks a rule (see its line)",
    UNEXPECTED_ERROR: "not sent: an unexpected client failure (see context)",
    "TRANSPORT_ERROR": "no answer after the retries: re-run to resend",
    "RESPONSE_SIGNATURE_INVALID": "answer not signed by the platform key",
    "MALFORMED_RESPONSE": "signed answer that is not a sync result",
}


def describe_code(code: str) -> str:
    """A one-line meaning of a result code, local bulk codes included."""
    if code in _LOCAL_MEANINGS:
        return _LOCAL_MEANINGS[code]
    known = {c.value: c for c in wire.ResultCode}
    return known[code].message if code in known else ""


class Sender(Protocol):
    """Anything that sends one request or raises :class:`SyncError`: a :class:`Client`."""

    def sync(self, transaction: wire.SyncRequest, /) -> SyncResponse: ...


@dataclass(kw_only=True)
class BulkReport:
    """Counts by result code; ``ALREADY_SUCCEEDED`` counts rows skipped on resume."""

    counts: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def all_succeeded(self) -> bool:
        return set(self.counts) <= {SUCCESS, ALREADY_SUCCEEDED}


# What the reading loop meets next: an outcome known without sending, or a send to run.
_Item = Outcome | Callable[[], Outcome]


def bulk_send(
    client: Sender,
    rows: Iterable[Row],
    *,
    results: ResultsFile,
    concurrency: int = 8,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
    stop: threading.Event | None = None,
) -> BulkReport:
    """Send every row, at most ``concurrency`` at a time; Ctrl-C drains in-flight sends.

    With ``rows`` from :func:`read_rows` and a :class:`Client`, rows are checked and signed
    in ``os.cpu_count()`` worker processes and the threads only send and verify.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    report = BulkReport()
    stop = stop or threading.Event()
    index = results.open()

    def record(outcome: Outcome) -> None:
        if outcome.code != ALREADY_SUCCEEDED:
            results.write(outcome)
        report.counts[outcome.code] += 1
        on_outcome(outcome)

    pending: set[Future[Outcome]] = set()
    with (
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bulk-send") as pool,
        _items(client, rows, index) as items,
    ):
        try:
            for item in items:
                if stop.is_set():
                    break
                if isinstance(item, Outcome):
                    record(item)
                else:
                    pending.add(pool.submit(item))
                    _drain(pending, concurrency - 1, record)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            _finish(pending, record, report)
            results.close()
    report.interrupted = report.interrupted or stop.is_set()
    return report


@contextlib.contextmanager
def _items(client: Sender, rows: Iterable[Row], index: SuccessIndex) -> Iterator[Iterator[_Item]]:
    if isinstance(rows, RowFile) and isinstance(client, Client):
        processes = os.cpu_count() or 1
        with presigned(
            rows, client.credentials, index, clock=client._clock, processes=processes
        ) as prepared:
            yield (_prepared_item(client, p, signed_at) for p, signed_at in prepared)
    else:
        yield (_row_item(client, row, index) for row in rows)


def _row_item(client: Sender, row: Row, index: SuccessIndex) -> _Item:
    if row.request is None:
        return _bad_row(row)
    if index.succeeded(row.line, row.request_id):
        return _skipped(row)
    return functools.partial(_send_one, client, row)


def _prepared_item(client: Client, prepared: Prepared, signed_at: datetime) -> _Item:
    if prepared.error is not None:
        return _outcome(prepared, INVALID_ROW, prepared.error)
    if prepared.skipped:
        return _outcome(prepared, ALREADY_SUCCEEDED)
    return functools.partial(_send_prepared, client, prepared, signed_at)


def _drain(pending: set[Future[Outcome]], keep: int, record: Callable[[Outcome], None]) -> None:
    """Record finished sends until at most ``keep`` are in flight; ``pending`` shrinks in place.

    A future leaves ``pending`` only once recorded, so a Ctrl-C in the middle loses nothing.
    """
    while len(pending) > keep:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        interrupted = False
        for future in done:
            try:
                outcome = future.result()
            except KeyboardInterrupt:  # raised inside a send: that row has no outcome
                pending.discard(future)
                interrupted = True
                continue
            record(outcome)
            pending.discard(future)
        if interrupted:
            raise KeyboardInterrupt


def _finish(
    pending: set[Future[Outcome]], record: Callable[[Outcome], None], report: BulkReport
) -> None:
    # In-flight sends are finished and recorded even after Ctrl-C: the platform may have
    # accepted them, and the results file must say so for the next run to skip them.
    while pending:
        try:
            _drain(pending, 0, record)
        except KeyboardInterrupt:
            report.interrupted = True


def _send_one(client: Sender, row: Row) -> Outcome:
    assert row.request is not None
    try:
        response = client.sync(row.request)
    except SyncError as exc:
        return _outcome(row, exc.code, exc.context, exc.attempts)
    except Exception as exc:  # a bug must cost one row, not the run
        return _outcome(row, UNEXPECTED_ERROR, f"{type(exc).__name__}: {exc}")
    return _outcome(row, SUCCESS, attempts=response.attempts)


def _send_prepared(client: Client, prepared: Prepared, signed_at: datetime) -> Outcome:
    try:
        response = client._deliver(prepared.outbound(signed_at))
    except SyncError as exc:
        return _outcome(prepared, exc.code, exc.context, exc.attempts)
    except Exception as exc:  # a bug must cost one row, not the run
        return _outcome(prepared, UNEXPECTED_ERROR, f"{type(exc).__name__}: {exc}")
    return _outcome(prepared, SUCCESS, attempts=response.attempts)


def _bad_row(row: Row) -> Outcome:
    return _outcome(row, INVALID_ROW, row.error)


def _skipped(row: Row) -> Outcome:
    return _outcome(row, ALREADY_SUCCEEDED)


def _outcome(
    row: Row | Prepared, code: str, context: str | None = None, attempts: int = 0
) -> Outcome:
    return Outcome(
        line=row.line,
        request_id=row.request_id,
        out_trans_id=row.out_trans_id,
        code=code,
        context=context,
        attempts=attempts,
    )
