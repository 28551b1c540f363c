"""Reads of periods and statements for operators and exports, on a read-only connection."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select

from asap_sync.domain.model import CommissionStatus
from asap_sync.domain.settlement import (
    PeriodStatus,
    Statement,
    StatementLine,
    StatementStatus,
    TransactionTotals,
)
from asap_sync.service.settlement_ports import MerchantTotals, PeriodInfo
from asap_sync.storage.engine import READ_ONLY
from asap_sync.storage.settlement import STREAM, stream_lines
from asap_sync.storage.tables import settlement_periods, statements, transactions


def period_info(period: str, row: Any, pending: int) -> PeriodInfo:
    """A period as listed, from its ``settlement_periods`` row (``None``: never closed)."""
    return PeriodInfo(
        period=period,
        status=PeriodStatus(row.status) if row else PeriodStatus.OPEN,
        statement_count=(row.statement_count or 0) if row else 0,
        transaction_count=(row.transaction_count or 0) if row else 0,
        pending_count=pending,
        closed_at=row.closed_at if row else None,
        assigned_at=row.assigned_at if row else None,
    )


class SqlStatementQueries:
    """Implements :class:`asap_sync.service.settlement_ports.StatementQueries`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def periods(self) -> Sequence[PeriodInfo]:
        """Every period with a row or with PENDING transactions, newest first."""
        t, sp = transactions, settlement_periods
        pending: dict[str, int] = dict(
            self.conn.execute(
                select(t.c.period, func.count())
                .where(t.c.status == CommissionStatus.PENDING.value)
                .group_by(t.c.period)
            ).all()
        )
        rows = {r.period: r for r in self.conn.execute(select(sp))}
        return [
            period_info(period, rows.get(period), int(pending.get(period, 0)))
            for period in sorted(set(pending) | set(rows), reverse=True)
        ]

    def statements(
        self,
        *,
        period: str | None = None,
        merchant_id: str | None = None,
        first_period: str | None = None,
        last_period: str | None = None,
    ) -> Iterator[Statement]:
        """Statements matching every filter given, by period then merchant."""
        s = statements
        query = select(s).order_by(s.c.period, s.c.merchant_id)
        if period is not None:
            query = query.where(s.c.period == period)
        if merchant_id is not None:
            query = query.where(s.c.merchant_id == merchant_id)
        if first_period is not None:
            query = query.where(s.c.period >= first_period)
        if last_period is not None:
            query = query.where(s.c.period <= last_period)
        for row in self.conn.execute(query.execution_options(**STREAM)):
            yield statement_from_row(row)

    def statement(self, statement_id: int) -> Statement | None:
        """One statement, or None."""
        row = self.conn.execute(
            select(statements).where(statements.c.statement_id == statement_id)
        ).first()
        return None if row is None else statement_from_row(row)

    def lines(self, statement_id: int) -> Iterator[StatementLine]:
        """A statement's lines in statement order, streamed."""
        return stream_lines(self.conn, statement_id)

    def merchant_totals(
        self,
        *,
        merchant_id: str | None = None,
        first_period: str | None = None,
        last_period: str | None = None,
    ) -> Sequence[MerchantTotals]:
        """Per merchant: its statements in the range, added up."""
        s = statements
        query = (
            select(
                s.c.merchant_id,
                func.min(s.c.period),
                func.max(s.c.period),
                func.count(),
                *(
                    func.sum(s.c[name])
                    for name in (
                        "transaction_count",
                        "gross_minor",
                        "refunded_minor",
                        "commission_e4",
                        "commission_minor",
                    )
                ),
            )
            .group_by(s.c.merchant_id)
            .order_by(s.c.merchant_id)
        )
        if merchant_id is not None:
            query = query.where(s.c.merchant_id == merchant_id)
        if first_period is not None:
            query = query.where(s.c.period >= first_period)
        if last_period is not None:
            query = query.where(s.c.period <= last_period)
        return [_totals_from_row(r) for r in self.conn.execute(query)]


def _totals_from_row(row: Any) -> MerchantTotals:
    return MerchantTotals(
        merchant_id=row[0],
        first_period=row[1],
        last_period=row[2],
        statement_count=int(row[3]),
        transaction_count=int(row[4]),
        gross_minor=int(row[5]),
        refunded_minor=int(row[6]),
        commission_e4=int(row[7]),
        commission_minor=int(row[8]),
    )


def statement_from_row(row: Row[Any]) -> Statement:
    """A domain statement from a ``statements`` row."""
    return Statement(
        statement_id=row.statement_id,
        period=row.period,
        merchant_id=row.merchant_id,
        totals=TransactionTotals(
            transaction_count=row.transaction_count,
            pay_count=row.pay_count,
            refund_count=row.refund_count,
            gross_minor=row.gross_minor,
            refunded_minor=row.refunded_minor,
        ),
        line_count=row.line_count,
        commission_e4=row.commission_e4,
        status=StatementStatus(row.status),
        content_hash=row.content_hash,
        created_at=row.created_at,
        assigned_at=row.assigned_at,
    )


@contextmanager
def statement_queries(engine: Engine) -> Iterator[SqlStatementQueries]:
    """Queries on one read-only connection, held while the caller streams."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield SqlStatementQueries(conn)
