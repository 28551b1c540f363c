"""Close and assign settlement periods (SPEC §5): idempotent, resumable, one merchant at a time.

Closing ``P`` gives each merchant one statement made of its PENDING transactions accepted in
``P`` or earlier (stragglers committed after an earlier close are caught here, never lost). Each
merchant is settled in its own database transaction, so a crash leaves whole statements behind
and the period CLOSING; running the close again finishes the remaining merchants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import Any

from asap_sync.domain.periods import period_of
from asap_sync.domain.settlement import (
    PeriodStatus,
    Statement,
    StatementSeal,
    check_assign_allowed,
    check_close_allowed,
    parse_period,
)
from asap_sync.service.settlement_ports import SettlementRepository, SettlementUnitOfWork

MERCHANT_BATCH = 500
STATEMENT_BATCH = 500
DONE = (PeriodStatus.CLOSED, PeriodStatus.ASSIGNED)

UowFactory = Callable[[], SettlementUnitOfWork]


@dataclass(frozen=True, kw_only=True, slots=True)
class CloseReport:
    """What a close did: statements and transactions of this run, and of the whole period."""

    period: str
    status: PeriodStatus
    already_done: bool
    statements_created: int
    transactions_settled: int
    statement_count: int
    transaction_count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class AssignReport:
    """What an assign did."""

    period: str
    already_done: bool
    statements_assigned: int
    transactions_assigned: int


def close_period(
    uow_factory: UowFactory,
    *,
    period: str,
    now: datetime,
    zone: tzinfo,
    allow_open_month: bool = False,
    guard: Callable[[SettlementUnitOfWork, PeriodStatus], None] | None = None,
) -> CloseReport:
    """Close ``period``: PENDING → PROCESSING and one sealed statement per merchant.

    Raises :class:`~asap_sync.domain.settlement.SettlementRefused` when the rules forbid it.
    ``guard`` runs first in the transaction that starts the close and sees the period's status:
    it may refuse (two-person approval) or mark an approved proposal, which then commits or
    rolls back with the start of the close. The activity entry ``period.close`` is written
    with the transaction that ends it.
    """
    parse_period(period)
    with uow_factory() as uow:
        repo = uow.settlement
        status = repo.period_status(period)
        if guard is not None:
            guard(uow, status)
        if status in DONE:
            return _close_report(repo.period_counts(period), period, status, already=True)
        check_can_close(repo, period, now, zone, allow_open_month)
        repo.set_period(period, PeriodStatus.CLOSING, now, close_started_at=now)
        uow.commit()
    created = settled = 0
    for merchant_id in merchants_to_close(uow_factory, period):
        statement = _close_merchant(uow_factory, period, merchant_id, now)
        if statement is not None:
            created += 1
            settled += statement.totals.transaction_count
    with uow_factory() as uow:
        counts = uow.settlement.period_counts(period)
        uow.settlement.set_period(
            period,
            PeriodStatus.CLOSED,
            now,
            closed_at=now,
            statement_count=counts[0],
            transaction_count=counts[1],
        )
        uow.note(
            "period.close",
            period,
            before={"status": status.value},
            after={
                "status": PeriodStatus.CLOSED.value,
                "statements": counts[0],
                "transactions": counts[1],
            },
        )
        uow.commit()
    report = _close_report(counts, period, PeriodStatus.CLOSED, already=False)
    return replace(report, statements_created=created, transactions_settled=settled)


def check_can_close(
    repo: SettlementRepository,
    period: str,
    now: datetime,
    zone: tzinfo,
    allow_open_month: bool,
) -> None:
    """The close's start checks, for the close, its proposal and its preview: not the running
    month unless allowed, and no earlier period left unclosed (raises SettlementRefused)."""
    check_close_allowed(
        period=period,
        current=period_of(now, zone),
        allow_open_month=allow_open_month,
        unclosed_earlier=repo.unclosed_earlier(period),
    )


def merchants_to_close(uow_factory: UowFactory, period: str) -> Iterator[str]:
    """Merchant ids in pages (keyset on the id), each page read in its own short transaction."""
    after = ""
    while True:
        with uow_factory() as uow:
            page = uow.settlement.merchants_to_close(period, after, MERCHANT_BATCH)
        yield from page
        if len(page) < MERCHANT_BATCH:
            return
        after = page[-1]


def _close_merchant(
    uow_factory: UowFactory, period: str, merchant_id: str, now: datetime
) -> Statement | None:
    """One merchant's statement, whole or not at all."""
    with uow_factory() as uow:
        statement = build_statement(uow.settlement, period, merchant_id, now)
        if statement is None:
            return None
        uow.commit()
        return statement


def build_statement(
    repo: SettlementRepository,
    period: str,
    merchant_id: str,
    now: datetime,
    *,
    each_record: Callable[[list[Any]], None] | None = None,
) -> Statement | None:
    """Claim a merchant's PENDING transactions and seal its statement, in the caller's unit.

    The close commits it; the close preview runs the very same steps and rolls them back.
    ``each_record`` sees every sealed line (in :data:`LINE_FIELDS` order).
    """
    statement_id = repo.create_statement(period, merchant_id, now)
    if statement_id is None:  # settled by an earlier or a concurrent run
        return None
    if repo.claim_transactions(statement_id, merchant_id, period, now) == 0:
        return None  # nothing left: the empty statement is rolled back
    repo.copy_lines(statement_id)
    seal = StatementSeal()
    for record in repo.stream_line_records(statement_id):
        seal.add_record(record)
        if each_record is not None:
            each_record(record)
    unsealed = Statement(
        statement_id=statement_id,
        period=period,
        merchant_id=merchant_id,
        totals=repo.transaction_totals(statement_id),
        line_count=seal.line_count,
        commission_e4=seal.commission_e4,
        created_at=now,
    )
    statement = replace(unsealed, content_hash=seal.finish(unsealed))
    repo.seal(statement)
    return statement


def _close_report(
    counts: tuple[int, int], period: str, status: PeriodStatus, *, already: bool
) -> CloseReport:
    return CloseReport(
        period=period,
        status=status,
        already_done=already,
        statements_created=0,
        transactions_settled=0,
        statement_count=counts[0],
        transaction_count=counts[1],
    )


def assign_period(uow_factory: UowFactory, *, period: str, now: datetime) -> AssignReport:
    """Assign a closed period: its statements' transactions PROCESSING → ASSIGNED."""
    parse_period(period)
    with uow_factory() as uow:
        status = uow.settlement.period_status(period)
    check_assign_allowed(period=period, status=status)
    if status is PeriodStatus.ASSIGNED:
        return AssignReport(
            period=period, already_done=True, statements_assigned=0, transactions_assigned=0
        )
    statements = transactions = 0
    after = 0
    while True:
        with uow_factory() as uow:
            page = uow.settlement.statements_to_assign(period, after, STATEMENT_BATCH)
        for statement_id in page:
            with uow_factory() as uow:
                transactions += uow.settlement.assign_statement(statement_id, now)
                uow.commit()
            statements += 1
        if len(page) < STATEMENT_BATCH:
            break
        after = page[-1]
    with uow_factory() as uow:
        uow.settlement.set_period(period, PeriodStatus.ASSIGNED, now, assigned_at=now)
        uow.note(
            "period.assign",
            period,
            before={"status": status.value},
            after={"status": PeriodStatus.ASSIGNED.value, "statements": statements},
        )
        uow.commit()
    return AssignReport(
        period=period,
        already_done=False,
        statements_assigned=statements,
        transactions_assigned=transactions,
    )
