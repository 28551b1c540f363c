"""The reads of the audit: set-based detection queries and streams ordered for a merge.

Every method returns an iterator over a streamed cursor, so the audit of a database of any
size runs in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, func, or_, select

from asap_sync.domain.model import CommissionStatus
from asap_sync.domain.settlement import (
    PeriodStatus,
    Statement,
    StatementLine,
    StatementStatus,
    TransactionTotals,
)
from asap_sync.storage.engine import READ_ONLY
from asap_sync.storage.settlement import STREAM, stream_lines, transaction_totals
from asap_sync.storage.statement_queries import statement_from_row
from asap_sync.storage.tables import (
    client_keys,
    commission_lines,
    raw_requests,
    settlement_periods,
    statement_lines,
    statements,
    transactions,
)

PENDING = CommissionStatus.PENDING.value
PROCESSING = CommissionStatus.PROCESSING.value
ASSIGNED = CommissionStatus.ASSIGNED.value


class SqlAuditQueries:
    """Read-only queries over the ledger and the statements."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _stream(self, query: Any) -> Iterator[Row[Any]]:
        yield from self.conn.execute(query.execution_options(**STREAM))

    def misplaced_transactions(self) -> Iterator[Row[Any]]:
        """Transactions whose status and statement disagree."""
        t, s = transactions, statements
        wrong_statement = or_(
            s.c.statement_id.is_(None),
            s.c.merchant_id != t.c.merchant_id,
            s.c.period < t.c.period,
            and_(t.c.status == PROCESSING, s.c.status != StatementStatus.CLOSED.value),
            and_(t.c.status == ASSIGNED, s.c.status != StatementStatus.ASSIGNED.value),
        )
        query = (
            select(
                t.c.transaction_id,
                t.c.merchant_id,
                t.c.out_trans_id,
                t.c.status,
                t.c.period,
                t.c.statement_id,
                s.c.statement_id.label("found_statement"),
                s.c.merchant_id.label("statement_merchant"),
                s.c.period.label("statement_period"),
                s.c.status.label("statement_status"),
            )
            .select_from(t.outerjoin(s, s.c.statement_id == t.c.statement_id))
            .where(
                or_(
                    and_(t.c.status == PENDING, t.c.statement_id.is_not(None)),
                    and_(t.c.status != PENDING, wrong_statement),
                )
            )
            .order_by(t.c.transaction_id)
        )
        return self._stream(query)

    def carried_forward(self) -> int:
        """PENDING transactions accepted in a period that is already closed."""
        t, sp = transactions, settlement_periods
        done = (PeriodStatus.CLOSED.value, PeriodStatus.ASSIGNED.value)
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(t.join(sp, sp.c.period == t.c.period))
                .where(t.c.status == PENDING, sp.c.status.in_(done))
            ).scalar_one()
        )

    def incomplete_periods(self) -> list[str]:
        """Periods whose close started and did not finish."""
        sp = settlement_periods
        query = select(sp.c.period).where(sp.c.status == PeriodStatus.CLOSING.value)
        return list(self.conn.execute(query).scalars())

    def unsettled_lines(self) -> Iterator[Row[Any]]:
        """Active lines of settled transactions that are in no statement."""
        t, c, sl = transactions, commission_lines, statement_lines
        in_statement = select(sl.c.line_id).where(sl.c.line_id == c.c.line_id).exists()
        query = (
            select(c.c.line_id, c.c.line_no, t.c.transaction_id, t.c.out_trans_id, t.c.statement_id)
            .select_from(c.join(t, t.c.transaction_id == c.c.transaction_id))
            .where(t.c.statement_id.is_not(None), c.c.superseded_at.is_(None), ~in_statement)
            .order_by(c.c.line_id)
        )
        return self._stream(query)

    def diverging_statement_lines(self) -> Iterator[Row[Any]]:
        """Statement lines that no longer match (or lost) the line, transaction or statement."""
        sl, c, t, s = statement_lines, commission_lines, transactions, statements
        differs = or_(
            c.c.line_id.is_(None),
            t.c.transaction_id.is_(None),
            s.c.statement_id.is_(None),
            c.c.superseded_at.is_not(None),
            *(
                c.c[name] != sl.c[name]
                for name in ("transaction_id", "line_no", "rule_value", "base_minor")
            ),
            c.c.commission_e4 != sl.c.commission_e4,
            t.c.statement_id.is_(None),
            t.c.statement_id != sl.c.statement_id,
            t.c.amount_minor != sl.c.transaction_amount_minor,
        )
        query = (
            select(
                sl.c.line_id,
                sl.c.statement_id,
                sl.c.out_trans_id,
                sl.c.commission_e4,
                sl.c.transaction_amount_minor,
                c.c.commission_e4.label("line_commission_e4"),
                c.c.superseded_at,
                t.c.statement_id.label("transaction_statement"),
                t.c.amount_minor,
            )
            .select_from(
                sl.outerjoin(c, c.c.line_id == sl.c.line_id)
                .outerjoin(t, t.c.transaction_id == sl.c.transaction_id)
                .outerjoin(s, s.c.statement_id == sl.c.statement_id)
            )
            .where(differs)
            .order_by(sl.c.line_id)
        )
        return self._stream(query)

    def duplicate_active_lines(self) -> Iterator[Row[Any]]:
        """Transactions with two active lines of the same number."""
        c, t = commission_lines, transactions
        query = (
            select(t.c.transaction_id, t.c.out_trans_id, c.c.line_no, func.count().label("n"))
            .select_from(c.join(t, t.c.transaction_id == c.c.transaction_id))
            .where(c.c.superseded_at.is_(None))
            .group_by(t.c.transaction_id, t.c.out_trans_id, c.c.line_no)
            .having(func.count() > 1)
        )
        return self._stream(query)

    def refund_totals(self) -> Iterator[Row[Any]]:
        """Each refunded origin: its amount and what its refunds add up to."""
        o, r = transactions, transactions.alias("refund")
        query = (
            select(
                o.c.transaction_id,
                o.c.merchant_id,
                o.c.out_trans_id,
                o.c.amount_minor,
                func.sum(r.c.amount_minor).label("refunded"),
            )
            .select_from(o.join(r, r.c.origin_id == o.c.transaction_id))
            .group_by(o.c.transaction_id, o.c.merchant_id, o.c.out_trans_id, o.c.amount_minor)
        )
        return self._stream(query)

    def reversal_totals(self) -> Iterator[Row[Any]]:
        """Each origin line with active reversals: earned, reversed, origin fully refunded."""
        rl, ol = commission_lines.alias("rev"), commission_lines.alias("orig")
        o, r = transactions, transactions.alias("refund")
        refunded = (
            select(func.coalesce(func.sum(r.c.amount_minor), 0))
            .where(r.c.origin_id == o.c.transaction_id)
            .scalar_subquery()
        )
        query = (
            select(
                ol.c.line_id,
                o.c.out_trans_id,
                ol.c.commission_e4.label("earned"),
                func.sum(rl.c.commission_e4).label("reversed"),
                (refunded >= o.c.amount_minor).label("fully_refunded"),
            )
            .select_from(
                rl.join(ol, ol.c.line_id == rl.c.reverses_line_id).join(
                    o, o.c.transaction_id == ol.c.transaction_id
                )
            )
            .where(rl.c.superseded_at.is_(None))
            .group_by(
                ol.c.line_id,
                o.c.transaction_id,
                o.c.out_trans_id,
                ol.c.commission_e4,
                o.c.amount_minor,
            )
        )
        return self._stream(query)

    def misdirected_reversals(self) -> Iterator[Row[Any]]:
        """Active reversal lines that reverse a superseded line or a line of another origin."""
        rl, ol = commission_lines.alias("rev"), commission_lines.alias("orig")
        r = transactions
        query = (
            select(rl.c.line_id, r.c.out_trans_id, ol.c.line_id.label("reversed_line"))
            .select_from(
                rl.join(r, r.c.transaction_id == rl.c.transaction_id).join(
                    ol, ol.c.line_id == rl.c.reverses_line_id
                )
            )
            .where(
                rl.c.superseded_at.is_(None),
                or_(
                    ol.c.superseded_at.is_not(None),
                    r.c.origin_id.is_(None),
                    ol.c.transaction_id != r.c.origin_id,
                ),
            )
        )
        return self._stream(query)

    def statements(self) -> Iterator[tuple[Statement, int]]:
        """Every statement, by id, with its stored rounded total."""
        for row in self._stream(select(statements).order_by(statements.c.statement_id)):
            yield statement_from_row(row), int(row.commission_minor)

    def statement_lines(self, statement_id: int) -> Iterator[StatementLine]:
        """A statement's lines in statement order."""
        return stream_lines(self.conn, statement_id)

    def transaction_totals(self, statement_id: int) -> TransactionTotals:
        """What the transactions that name the statement add up to."""
        return transaction_totals(self.conn, statement_id)

    def signed_transactions(self) -> Iterator[Row[Any]]:
        """Each transaction with the raw request that last defined it, by transaction id."""
        t, rr = transactions, raw_requests
        query = (
            select(
                t.c.transaction_id,
                t.c.merchant_id,
                t.c.out_trans_id,
                t.c.client_id,
                t.c.direction,
                t.c.amount_minor,
                t.c.content,
                rr.c.client_id.label("raw_client_id"),
                rr.c.key_version,
                rr.c.method,
                rr.c.path,
                rr.c.request_time,
                rr.c.signature,
                rr.c.body,
            )
            .select_from(t.outerjoin(rr, rr.c.raw_request_id == t.c.raw_request_id))
            .order_by(t.c.transaction_id)
        )
        return self._stream(query)

    def active_lines(self) -> Iterator[Row[Any]]:
        """Every active commission line, by transaction then line number."""
        c = commission_lines
        query = (
            select(c)
            .where(c.c.superseded_at.is_(None))
            .order_by(c.c.transaction_id, c.c.line_no, c.c.line_id)
        )
        return self._stream(query)

    def client_key(self, client_id: str, key_version: int) -> str | None:
        """The PEM of a client's key of that version, retired or not (old requests verify)."""
        return self.conn.execute(
            select(client_keys.c.public_key_pem).where(
                client_keys.c.client_id == client_id, client_keys.c.key_version == key_version
            )
        ).scalar()


@contextmanager
def audit_queries(engine: Engine) -> Iterator[SqlAuditQueries]:
    """Audit reads on one read-only connection and one snapshot where the database has them."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield SqlAuditQueries(conn)
