"""The SQL behind the console's searches, detail pages and day counts (read-only)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select, text, tuple_
from sqlalchemy.orm import aliased

from asap_sync.domain.settlement import Statement
from asap_sync.service.console_views import (
    CommissionLineRow,
    MerchantMonth,
    RawRequest,
    RejectionGroup,
    RejectionSearch,
    TransactionDetail,
    TransactionRow,
    TransactionSearch,
)
from asap_sync.storage.engine import READ_ONLY
from asap_sync.storage.statement_queries import statement_from_row
from asap_sync.storage.tables import (
    client_keys,
    commission_lines,
    raw_requests,
    rejections,
    request_bindings,
    settlement_periods,
    statements,
    transactions,
)

_ROW_COLUMNS = tuple(TransactionRow.__dataclass_fields__)


class SqlConsoleQueries:
    """Implements :class:`asap_sync.service.console_views.ConsoleQueries`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def accepted_between(self, start: datetime, end: datetime) -> int:
        t = transactions
        query = select(func.count()).where(t.c.accepted_at >= start, t.c.accepted_at < end)
        return int(self.conn.execute(query).scalar_one())

    def rejections_by_code_between(
        self, start: datetime, end: datetime
    ) -> Sequence[tuple[str, int]]:
        r = rejections
        query = (
            select(r.c.code, func.count())
            .where(r.c.received_at >= start, r.c.received_at < end)
            .group_by(r.c.code)
            .order_by(r.c.code)
        )
        return [(code, int(n)) for code, n in self.conn.execute(query)]

    def commission_by_merchant_month(self, first_period: str) -> Sequence[MerchantMonth]:
        s = statements
        query = (
            select(s.c.merchant_id, s.c.period, s.c.commission_minor)
            .where(s.c.period >= first_period)
            .order_by(s.c.period, s.c.merchant_id)
        )
        return [
            MerchantMonth(merchant_id=m, period=p, commission_minor=int(c))
            for m, p, c in self.conn.execute(query)
        ]

    def search_transactions(self, search: TransactionSearch) -> Sequence[TransactionRow]:
        merchants = [search.merchant_id] if search.merchant_id else None
        if merchants is None and (search.out_trans_id or search.origin_trans_id):
            merchants = self._distinct("transactions", "merchant_id")
        clients = [search.client_id] if search.client_id else None
        if clients is None and search.request_id:
            clients = self._distinct("request_bindings", "client_id")
        # The page's ids first, from the indexes alone; then only those rows are read.
        t = transactions
        ids = _searched(select(t.c.transaction_id), search, merchants, clients)
        ids = ids.order_by(t.c.transaction_id.desc()).limit(search.limit)
        page = [int(i) for i in self.conn.execute(ids).scalars()]
        if not page:
            return []
        query = select(*(t.c[c] for c in _ROW_COLUMNS)).where(t.c.transaction_id.in_(page))
        return [_row(r) for r in self.conn.execute(query.order_by(t.c.transaction_id.desc()))]

    def transaction_detail(self, transaction_id: int) -> TransactionDetail | None:
        found = self._transactions(transactions.c.transaction_id == transaction_id)
        if not found:
            return None
        row = found[0]
        origin = (
            self._transactions(transactions.c.transaction_id == row.origin_id)
            if row.origin_id is not None
            else []
        )
        return TransactionDetail(
            transaction=row,
            raw_request=self._raw_request(row.raw_request_id),
            lines=self._lines(transaction_id),
            origin=origin[0] if origin else None,
            refunds=self._transactions(transactions.c.origin_id == transaction_id),
            statement=self._statement(row.statement_id),
        )

    def _transactions(self, *where: Any) -> list[TransactionRow]:
        query = select(*(transactions.c[c] for c in _ROW_COLUMNS)).where(*where)
        rows = self.conn.execute(query.order_by(transactions.c.transaction_id))
        return [_row(r) for r in rows]

    def _raw_request(self, raw_request_id: int) -> RawRequest | None:
        query = select(raw_requests).where(raw_requests.c.raw_request_id == raw_request_id)
        r = self.conn.execute(query).first()
        if r is None:
            return None
        return RawRequest(
            raw_request_id=r.raw_request_id,
            client_id=r.client_id,
            key_version=r.key_version,
            method=r.method,
            path=r.path,
            request_time=r.request_time,
            signature=r.signature,
            headers=r.headers,
            body=bytes(r.body),
            received_at=r.received_at,
        )

    def _lines(self, transaction_id: int) -> list[CommissionLineRow]:
        c = commission_lines
        query = select(c).where(c.c.transaction_id == transaction_id).order_by(c.c.line_id)
        return [
            CommissionLineRow(
                line_id=r.line_id,
                line_no=r.line_no,
                contract_id=r.contract_id,
                rule_kind=r.rule_kind,
                rule_value=r.rule_value,
                base_minor=r.base_minor,
                commission_e4=r.commission_e4,
                goods_index=r.goods_index,
                goods_code=r.goods_code,
                reverses_line_id=r.reverses_line_id,
                created_at=r.created_at,
                superseded_at=r.superseded_at,
            )
            for r in self.conn.execute(query)
        ]

    def _statement(self, statement_id: int | None) -> Statement | None:
        if statement_id is None:
            return None
        query = select(statements).where(statements.c.statement_id == statement_id)
        row = self.conn.execute(query).first()
        return None if row is None else statement_from_row(row)

    def rejection_groups(self, search: RejectionSearch) -> Sequence[RejectionGroup]:
        r = rejections
        day = _day(self.conn, r.c.received_at).label("day")
        query = (
            select(
                day,
                r.c.code,
                r.c.client_id,
                func.count().label("n"),
                func.min(r.c.received_at).label("first_at"),
                func.max(r.c.received_at).label("last_at"),
            )
            .where(r.c.received_at >= search.since, r.c.received_at < search.until)
            .group_by(day, r.c.code, r.c.client_id)
            .order_by(day.desc(), func.count().desc())
        )
        if search.code:
            query = query.where(r.c.code == search.code)
        if search.client_id:
            query = query.where(r.c.client_id == search.client_id)
        return [
            RejectionGroup(
                day=str(g.day),
                code=g.code,
                client_id=g.client_id,
                count=int(g.n),
                first_at=_aware(g.first_at),
                last_at=_aware(g.last_at),
            )
            for g in self.conn.execute(query)
        ]

    def periods_awaiting(self) -> Sequence[tuple[str, str]]:
        """Periods still holding PENDING transactions, or closed but not assigned, oldest first
        (the PENDING ones found with a loose scan of the status index, not by counting)."""
        pending = self.conn.execute(text(_PENDING_PERIODS)).scalars().all()
        rows = self.conn.execute(
            select(settlement_periods.c.period, settlement_periods.c.status).where(
                settlement_periods.c.status != "ASSIGNED"
            )
        ).all()
        status = {str(p): "OPEN" for p in pending} | {str(p): str(st) for p, st in rows}
        return sorted(status.items())

    def _distinct(self, table: str, column: str) -> list[str]:
        """The distinct values of an index's leading column, one index probe each (a loose
        index scan): an id looked up without its merchant (or client) then costs a probe per
        merchant in the unique index instead of a scan of the table."""
        rows = self.conn.execute(text(_LOOSE_SCAN.format(table=table, column=column)))
        return [value for (value,) in rows]

    def client_key_pem(self, client_id: str, key_version: int) -> str | None:
        k = client_keys
        query = select(k.c.public_key_pem).where(
            k.c.client_id == client_id, k.c.key_version == key_version
        )
        return self.conn.execute(query).scalar_one_or_none()


_LOOSE_SCAN = """
WITH RECURSIVE found(v) AS (
    SELECT min({column}) FROM {table}
    UNION ALL
    SELECT (SELECT min({column}) FROM {table} WHERE {column} > found.v)
    FROM found WHERE found.v IS NOT NULL
)
SELECT v FROM found WHERE v IS NOT NULL
"""


_PENDING_PERIODS = """
WITH RECURSIVE found(v) AS (
    SELECT min(period) FROM transactions WHERE status = 'PENDING'
    UNION ALL
    SELECT (SELECT min(period) FROM transactions WHERE status = 'PENDING' AND period > found.v)
    FROM found WHERE found.v IS NOT NULL
)
SELECT v FROM found WHERE v IS NOT NULL
"""


def _searched(
    query: Select[Any],
    s: TransactionSearch,
    merchants: list[str] | None,
    clients: list[str] | None,
) -> Select[Any]:
    t = transactions
    equal = {
        t.c.client_id: s.client_id,
        t.c.direction: s.direction,
        t.c.status: s.status,
        t.c.period: s.period,
    }
    for column, value in equal.items():
        if value:
            query = query.where(column == value)
    if s.merchant_id:
        query = query.where(t.c.merchant_id == s.merchant_id)
    if s.out_trans_id:
        query = query.where(
            t.c.merchant_id.in_(merchants or []), t.c.out_trans_id == s.out_trans_id
        )
    if s.accepted_from is not None:
        query = query.where(t.c.accepted_at >= s.accepted_from)
    if s.accepted_to is not None:
        query = query.where(t.c.accepted_at < s.accepted_to)
    if s.before_id is not None:
        query = query.where(t.c.transaction_id < s.before_id)
    if s.origin_trans_id:
        origin = aliased(t)
        origins = select(origin.c.transaction_id).where(
            origin.c.merchant_id.in_(merchants or []),
            origin.c.out_trans_id == s.origin_trans_id,
        )
        query = query.where(t.c.origin_id.in_(origins))
    if s.request_id:
        b = request_bindings
        bound = select(b.c.merchant_id, b.c.out_trans_id).where(
            b.c.client_id.in_(clients or []), b.c.request_id == s.request_id
        )
        query = query.where(tuple_(t.c.merchant_id, t.c.out_trans_id).in_(bound))
    return query


def _day(conn: Connection, column: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def _aware(value: Any) -> datetime:
    # Aggregates bypass the column type on SQLite: text comes back, UTC by construction.
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(r: Any) -> TransactionRow:
    return TransactionRow(**{c: getattr(r, c) for c in _ROW_COLUMNS})


@contextmanager
def console_queries(engine: Engine) -> Iterator[SqlConsoleQueries]:
    """Queries on one read-only connection, held while the caller reads."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield SqlConsoleQueries(conn)
