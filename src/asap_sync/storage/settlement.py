"""The SQL of closing and assigning periods: set-based, one merchant per database transaction.

Closing never loads a period into Python: a merchant's PENDING transactions are claimed by one
``UPDATE`` (which takes their row locks on PostgreSQL, so a goods update that holds one waits or
is waited for, see docs/settlement.md), its lines are copied by one ``INSERT ... SELECT``, and the
seal is computed over a streamed cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from asap_sync.domain.model import CommissionStatus
from asap_sync.domain.settlement import (
    LINE_FIELDS,
    TRANS_DATE_INDEX,
    PeriodStatus,
    Statement,
    StatementLine,
    StatementStatus,
    TransactionTotals,
)
from asap_sync.storage.approvals import SqlApprovalRepository
from asap_sync.storage.tables import (
    commission_lines,
    settlement_periods,
    statement_lines,
    statements,
    transactions,
)
from asap_sync.storage.unit_of_work import ConnectionUnit

STREAM = {"yield_per": 2000, "stream_results": True}
SQLITE_CACHE_KIB = 256 * 1024
PENDING, PROCESSING = CommissionStatus.PENDING.value, CommissionStatus.PROCESSING.value
UNCLOSED = (PeriodStatus.OPEN.value, PeriodStatus.CLOSING.value)


class SqlSettlementRepository:
    """Periods and statements on one connection, inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- periods -------------------------------------------------------------------------

    def period_status(self, period: str) -> PeriodStatus:
        """The period's status; OPEN when it has no row yet."""
        status = self.conn.execute(
            select(settlement_periods.c.status).where(settlement_periods.c.period == period)
        ).scalar()
        return PeriodStatus(status) if status else PeriodStatus.OPEN

    def unclosed_earlier(self, period: str) -> list[tuple[str, PeriodStatus]]:
        """Earlier periods that still hold PENDING commission unclosed, or that are CLOSING."""
        t, sp = transactions, settlement_periods
        status = func.coalesce(sp.c.status, PeriodStatus.OPEN.value)
        pending = (
            select(t.c.period, status.label("status"))
            .select_from(t.outerjoin(sp, sp.c.period == t.c.period))
            .where(t.c.status == PENDING, t.c.period < period)
            .where(or_(sp.c.status.is_(None), sp.c.status.in_(UNCLOSED)))
        )
        closing = select(sp.c.period, sp.c.status).where(
            sp.c.period < period, sp.c.status == PeriodStatus.CLOSING.value
        )
        rows = self.conn.execute(union(pending, closing).order_by("period")).all()
        return [(r[0], PeriodStatus(r[1])) for r in rows]

    def set_period(self, period: str, status: PeriodStatus, now: datetime, **extra: Any) -> None:
        """Create or move the period's row."""
        values = {"status": status.value, "updated_at": now, **extra}
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(settlement_periods).values(period=period, **values)
        self.conn.execute(stmt.on_conflict_do_update(index_elements=["period"], set_=values))

    def period_counts(self, period: str) -> tuple[int, int]:
        """Statements of the period and the transactions they settle."""
        row = self.conn.execute(
            select(func.count(), func.coalesce(func.sum(statements.c.transaction_count), 0)).where(
                statements.c.period == period
            )
        ).one()
        return int(row[0]), int(row[1])

    def merchants_to_close(self, period: str, after: str, limit: int) -> list[str]:
        """The next merchants (by id, after ``after``) with PENDING commission up to ``period``
        and no statement for it yet."""
        t, s = transactions, statements
        has_statement = (
            select(s.c.statement_id)
            .where(s.c.period == period, s.c.merchant_id == t.c.merchant_id)
            .exists()
        )
        query = (
            select(t.c.merchant_id)
            .where(t.c.status == PENDING, t.c.period <= period, t.c.merchant_id > after)
            .where(~has_statement)
            .distinct()
            .order_by(t.c.merchant_id)
            .limit(limit)
        )
        return list(self.conn.execute(query).scalars())

    # -- closing one merchant ------------------------------------------------------------

    def create_statement(self, period: str, merchant_id: str, now: datetime) -> int | None:
        """An empty statement row to fill; None when the merchant already has one."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        zero = dict.fromkeys(
            (
                "transaction_count",
                "pay_count",
                "refund_count",
                "gross_minor",
                "refunded_minor",
                "line_count",
                "commission_e4",
                "commission_minor",
            ),
            0,
        )
        stmt = (
            dialect.insert(statements)
            .values(
                period=period,
                merchant_id=merchant_id,
                status=StatementStatus.CLOSED.value,
                content_hash="",
                created_at=now,
                **zero,
            )
            .on_conflict_do_nothing()
            .returning(statements.c.statement_id)
        )
        row = self.conn.execute(stmt).first()
        return None if row is None else int(row[0])

    def claim_transactions(
        self, statement_id: int, merchant_id: str, period: str, now: datetime
    ) -> int:
        """PENDING → PROCESSING for the merchant's transactions up to ``period``; a plain
        ``UPDATE`` so PostgreSQL row-locks each one (and re-checks PENDING after a wait)."""
        t = transactions
        result = self.conn.execute(
            update(t)
            .where(t.c.merchant_id == merchant_id, t.c.status == PENDING, t.c.period <= period)
            .values(status=PROCESSING, statement_id=statement_id, updated_at=now)
        )
        return int(result.rowcount)

    def copy_lines(self, statement_id: int) -> None:
        """The active lines of the claimed transactions become the statement's lines."""
        t, c = transactions, commission_lines
        origin = transactions.alias("origin")
        source = (
            select(
                literal(statement_id),
                c.c.line_id,
                t.c.transaction_id,
                t.c.out_trans_id,
                t.c.direction,
                t.c.trans_date,
                t.c.period,
                t.c.amount_minor,
                origin.c.out_trans_id,
                c.c.line_no,
                c.c.contract_id,
                c.c.rule_kind,
                c.c.rule_value,
                c.c.base_minor,
                c.c.commission_e4,
                c.c.goods_index,
                c.c.goods_code,
                c.c.reverses_line_id,
                case((c.c.reverses_line_id.is_(None), None), else_=origin.c.statement_id),
            )
            .select_from(
                t.join(c, and_(c.c.transaction_id == t.c.transaction_id)).outerjoin(
                    origin, origin.c.transaction_id == t.c.origin_id
                )
            )
            .where(t.c.statement_id == statement_id, c.c.superseded_at.is_(None))
        )
        self.conn.execute(insert(statement_lines).from_select(_line_columns(), source))

    def transaction_totals(self, statement_id: int) -> TransactionTotals:
        """Count and amounts of the statement's transactions."""
        return transaction_totals(self.conn, statement_id)

    def stream_lines(self, statement_id: int) -> Iterator[StatementLine]:
        """The statement's lines in statement order, streamed."""
        return stream_lines(self.conn, statement_id)

    def stream_line_records(self, statement_id: int) -> Iterator[list[Any]]:
        """The same lines as plain value lists, the form the seal hashes (no objects built)."""
        for row in self.conn.execute(_lines_query(statement_id).execution_options(**STREAM)):
            record = list(row)
            record[TRANS_DATE_INDEX] = record[TRANS_DATE_INDEX].isoformat()
            yield record

    def seal(self, statement: Statement) -> None:
        """Write the totals and the content hash."""
        t = statement.totals
        self.conn.execute(
            update(statements)
            .where(statements.c.statement_id == statement.statement_id)
            .values(
                transaction_count=t.transaction_count,
                pay_count=t.pay_count,
                refund_count=t.refund_count,
                gross_minor=t.gross_minor,
                refunded_minor=t.refunded_minor,
                line_count=statement.line_count,
                commission_e4=statement.commission_e4,
                commission_minor=statement.commission_minor,
                content_hash=statement.content_hash,
            )
        )

    # -- assigning -----------------------------------------------------------------------

    def statements_to_assign(self, period: str, after: int, limit: int) -> list[int]:
        """The next CLOSED statements of the period."""
        s = statements
        query = (
            select(s.c.statement_id)
            .where(s.c.period == period, s.c.status == StatementStatus.CLOSED.value)
            .where(s.c.statement_id > after)
            .order_by(s.c.statement_id)
            .limit(limit)
        )
        return [int(x) for x in self.conn.execute(query).scalars()]

    def assign_statement(self, statement_id: int, now: datetime) -> int:
        """PROCESSING → ASSIGNED for the statement's transactions; the statement follows."""
        t = transactions
        result = self.conn.execute(
            update(t)
            .where(t.c.statement_id == statement_id, t.c.status == PROCESSING)
            .values(status=CommissionStatus.ASSIGNED.value, updated_at=now)
        )
        self.conn.execute(
            update(statements)
            .where(statements.c.statement_id == statement_id)
            .values(status=StatementStatus.ASSIGNED.value, assigned_at=now)
        )
        return int(result.rowcount)


def _line_columns() -> list[str]:
    return ["statement_id", *LINE_FIELDS]


def transaction_totals(conn: Connection, statement_id: int) -> TransactionTotals:
    """Count and amounts of the transactions that name ``statement_id``."""
    t = transactions
    is_pay = t.c.direction == "pay"
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((is_pay, 1), else_=0)), 0),
            func.coalesce(func.sum(case((is_pay, 0), else_=1)), 0),
            func.coalesce(func.sum(case((is_pay, t.c.amount_minor), else_=0)), 0),
            func.coalesce(func.sum(case((is_pay, 0), else_=t.c.amount_minor)), 0),
        ).where(t.c.statement_id == statement_id)
    ).one()
    return TransactionTotals(
        transaction_count=int(row[0]),
        pay_count=int(row[1]),
        refund_count=int(row[2]),
        gross_minor=int(row[3]),
        refunded_minor=int(row[4]),
    )


def stream_lines(conn: Connection, statement_id: int) -> Iterator[StatementLine]:
    """A statement's lines ordered by transaction and line number, fetched in batches."""
    for row in conn.execute(_lines_query(statement_id).execution_options(**STREAM)):
        yield line_from_row(row)


def _lines_query(statement_id: int) -> Select[Any]:
    sl = statement_lines
    return (
        select(*(sl.c[name] for name in LINE_FIELDS))
        .where(sl.c.statement_id == statement_id)
        .order_by(sl.c.transaction_id, sl.c.line_no)
    )


def line_from_row(row: Row[Any]) -> StatementLine:
    """A statement line from a row of the ``statement_lines`` columns."""
    return StatementLine(**row._asdict())


class SqlSettlementUnitOfWork(ConnectionUnit):
    """One connection and one transaction for settlement, rolled back unless committed."""

    settlement: SqlSettlementRepository
    approvals: SqlApprovalRepository

    def _opened(self, conn: Connection) -> None:
        self.approvals = SqlApprovalRepository(conn)
        if conn.dialect.name == "sqlite":
            # A close touches a million-row table and its indexes: a bigger (still bounded)
            # page cache than SQLite's 2 MiB default saves most of its page reads.
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        self.settlement = SqlSettlementRepository(conn)
