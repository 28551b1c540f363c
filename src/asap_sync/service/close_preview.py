"""The dry run of a close: exactly the statements the close would seal, then rolled back.

Each merchant's statement is built by the close's own steps
(:func:`asap_sync.service.settlement.build_statement`) in a unit of work that is never
committed, so the preview cannot drift from what the close seals. Statement ids (and so the
content hashes, which cover them) are only given when the close runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from asap_sync.domain.settlement import (
    LINE_FIELDS,
    PeriodStatus,
    SettlementRefused,
    Statement,
    parse_period,
)
from asap_sync.service.settlement import (
    DONE,
    UowFactory,
    build_statement,
    check_can_close,
    merchants_to_close,
)

log = logging.getLogger("asap_sync.console")
_REVERSES_STATEMENT = LINE_FIELDS.index("reverses_statement_id")


@dataclass(frozen=True, kw_only=True, slots=True)
class PreviewStatement:
    """One merchant's statement as the close would seal it."""

    statement: Statement
    carried_reversals: int  # lines reversing commission sealed in an earlier statement


@dataclass(frozen=True, kw_only=True, slots=True)
class ClosePreview:
    """What closing ``period`` now would seal; ``refusal`` says why it cannot be closed yet."""

    period: str
    status: PeriodStatus
    statements: tuple[PreviewStatement, ...]
    refusal: str | None = None

    @property
    def transaction_count(self) -> int:
        """Transactions the close would settle."""
        return sum(p.statement.totals.transaction_count for p in self.statements)

    @property
    def gross_minor(self) -> int:
        """Their pays, added up."""
        return sum(p.statement.totals.gross_minor for p in self.statements)

    @property
    def commission_minor(self) -> int:
        """The statements' rounded commission, added up (what is paid)."""
        return sum(p.statement.commission_minor for p in self.statements)


def preview_close(
    uow_factory: UowFactory,
    *,
    period: str,
    now: datetime,
    zone: tzinfo,
    allow_open_month: bool = False,
    on_statement: Callable[[PreviewStatement], None] | None = None,
) -> ClosePreview:
    """The statements a close of ``period`` would seal now, without sealing anything;
    ``on_statement`` hears of each as it is built (a job's progress)."""
    parse_period(period)
    refusal = None
    with uow_factory() as uow:
        status = uow.settlement.period_status(period)
        if status not in DONE:
            try:
                check_can_close(uow.settlement, period, now, zone, allow_open_month)
            except SettlementRefused as exc:  # shown beside the preview
                refusal = str(exc)
    if status in DONE:
        return ClosePreview(period=period, status=status, statements=(), refusal="already closed")
    found = []
    for merchant_id in merchants_to_close(uow_factory, period):
        reversed_in: list[int] = []

        def note(record: list[Any], reversed_in: list[int] = reversed_in) -> None:
            if record[_REVERSES_STATEMENT] is not None:
                reversed_in.append(record[_REVERSES_STATEMENT])

        with uow_factory() as uow:  # never committed: rolled back on exit
            # As the close does first (statements refer to their period's row).
            uow.settlement.set_period(period, PeriodStatus.CLOSING, now, close_started_at=now)
            statement = build_statement(uow.settlement, period, merchant_id, now, each_record=note)
        if statement is not None:
            carried = sum(1 for s in reversed_in if s != statement.statement_id)
            found.append(PreviewStatement(statement=statement, carried_reversals=carried))
            if on_statement is not None:
                on_statement(found[-1])
    return ClosePreview(period=period, status=status, statements=tuple(found), refusal=refusal)


@dataclass(kw_only=True)
class PreviewJob:
    """One preview computed in the background: its progress while it runs, then its result
    (or the error that stopped it)."""

    period: str
    allow_open_month: bool
    started_at: datetime
    statements: int = 0  # built so far
    transactions: int = 0
    result: ClosePreview | None = None
    error: str | None = None
    took: float | None = None  # seconds, once finished
    done: threading.Event = field(default_factory=threading.Event)

    def heard(self, built: PreviewStatement) -> None:
        """Progress: one more merchant's statement built."""
        self.statements += 1
        self.transactions += built.statement.totals.transaction_count


class PreviewJobs:
    """Close previews run in background threads, one per period (and running-month choice) at
    a time; the last result of each is kept until it is recomputed."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, bool], PreviewJob] = {}

    def get(self, period: str, allow_open_month: bool) -> PreviewJob | None:
        """The running or last finished preview of ``period``."""
        with self._lock:
            return self._jobs.get((period, allow_open_month))

    def start(
        self,
        period: str,
        allow_open_month: bool,
        now: datetime,
        compute: Callable[[Callable[[PreviewStatement], None]], ClosePreview],
    ) -> PreviewJob:
        """Start computing the preview with ``compute(on_statement)``, unless one is running
        (then that one is returned)."""
        key = (period, allow_open_month)
        with self._lock:
            running = self._jobs.get(key)
            if running is not None and not running.done.is_set():
                return running
            job = self._jobs[key] = PreviewJob(
                period=period, allow_open_month=allow_open_month, started_at=now
            )
        thread = threading.Thread(
            target=self._run, args=(job, compute), name=f"preview-{period}", daemon=True
        )
        thread.start()
        return job

    def _run(
        self, job: PreviewJob, compute: Callable[[Callable[[PreviewStatement], None]], ClosePreview]
    ) -> None:
        started = self._monotonic()
        try:
            job.result = compute(job.heard)
        except SettlementRefused as exc:
            job.error = str(exc)
        except Exception as exc:  # shown on the page; the thread must not die silently
            log.exception("the close preview of %s failed", job.period)
            job.error = f"the preview failed: {exc.__class__.__name__}; see the server log"
        finally:
            job.took = self._monotonic() - started
            job.done.set()
