"""The SQL behind the console's searches, detail pages and day counts (read-only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
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
from asap_sync.service.settlement_ports import PeriodInfo
from asap_sync.storage.console_summaries import (
    ACCEPTED,
    DAY,
    REJECTED,
    Span,
    day_start,
    live_spans,
    summarized_days,
    summary_rows,
    utc_day,
)
from asap_sync.storage.engine import READ_ONLY
from asap_sync.storage.ledger_read import as_utc
from asap_sync.storage.statement_queries import period_info, statement_from_row
from asap_sync.storage.tables import (
    client_keys,
    commission_lines,
    console_day_counts,
    console_days,
    raw_requests,
    rejections,
    request_bindings,
    settlement_periods,
    statements,
    transactions,
)

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
_ROW_COLUMNS = tuple(TransactionRow.__dataclass_fields__)


class SqlConsoleQueries:
    """Implements :class:`asap_sync.service.console_views.ConsoleQueries`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def accepted_between(self, start: datetime, end: datetime) -> int:
        """Syncs accepted in ``[start, end)``, counted live (a range of the index)."""
        t = transactions
        query = select(func.count()).where(t.c.accepted_at >= start, t.c.accepted_at < end)
        return int(self.conn.execute(query).scalar_one())

    def accepted_per_day(self, days: Sequence[date]) -> list[int]:
        """Syncs accepted on each day: from the day summaries, the rest counted live."""
        done = set(summarized_days(self.conn, min(days), max(days) + DAY))
        stored: dict[str, int] = defaultdict(int)
        for row in summary_rows(self.conn, ACCEPTED, sorted(done)):
            stored[row.day] += int(row.count)
        return [
            stored[d.isoformat()]
            if d.isoformat() in done
            else self.accepted_between(day_start(d), day_start(d) + DAY)
            for d in days
        ]

    def rejections_per_day(self, days: Sequence[date]) -> dict[str, list[int]]:
        """Rejections on each day, per code: from the day summaries, the rest counted live."""
        per_code: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
        index = {d.isoformat(): i for i, d in enumerate(days)}
        spans, done = live_spans(
            day_start(min(days)),
            day_start(max(days)) + DAY,
            summarized_days(self.conn, min(days), max(days) + DAY),
        )
        for row in summary_rows(self.conn, REJECTED, done):
            per_code[row.code][index[row.day]] += int(row.count)
        for group in self._live_rejection_groups(spans):
            if group.day in index:
                per_code[group.code][index[group.day]] += group.count
        return dict(per_code)

    def accepted_by_period(self, first: date | None) -> dict[str, int]:
        """Syncs accepted per period since ``first`` (the first day with any): the summaries
        of every summarized day, the rest counted live."""
        if first is None:
            return {}
        c = console_day_counts
        stored = select(c.c.period, func.sum(c.c.count)).where(c.c.kind == ACCEPTED)
        totals: dict[str, int] = defaultdict(int)
        for period, n in self.conn.execute(stored.group_by(c.c.period)):
            totals[period] += int(n)
        done = list(self.conn.execute(select(console_days.c.day)).scalars())
        end = max([day_start(first), *(day_start(date.fromisoformat(d)) + DAY for d in done)])
        t = transactions
        for span in [*live_spans(day_start(first), end, done)[0], Span(end, FAR_FUTURE)]:
            live = (
                select(t.c.period, func.count())
                .where(t.c.accepted_at >= span.start, t.c.accepted_at < span.end)
                .group_by(t.c.period)
            )
            for period, n in self.conn.execute(live):
                totals[period] += int(n)
        return dict(totals)

    def first_day(self) -> date | None:
        """The UTC day of the first accepted sync."""
        first = self.conn.execute(select(func.min(transactions.c.accepted_at))).scalar_one()
        return None if first is None else utc_day(as_utc(first))

    def pending_in(self, period: str) -> int:
        """PENDING transactions of ``period``, counted live (the status index)."""
        t = transactions
        query = select(func.count()).where(t.c.status == "PENDING", t.c.period == period)
        return int(self.conn.execute(query).scalar_one())

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
        """Rejections by day, code, client and source: whole days that are summarized from
        their summaries, the rest grouped live."""
        spans, done = live_spans(
            search.since,
            search.until,
            summarized_days(self.conn, utc_day(search.since), utc_day(search.until) + DAY),
        )
        c = console_day_counts
        where = []
        if search.code:
            where.append(c.c.code == search.code)
        if search.client_id:
            where.append(c.c.client_id == search.client_id)
        if search.source:
            where.append(c.c.source == search.source)
        groups = [
            RejectionGroup(
                day=row.day,
                code=row.code,
                client_id=row.client_id or None,
                source=row.source or None,
                count=int(row.count),
                first_at=row.first_at,
                last_at=row.last_at,
            )
            for row in summary_rows(self.conn, REJECTED, done, *where)
        ]
        groups += self._live_rejection_groups(spans, search)
        return sorted(groups, key=lambda g: (g.day, g.count), reverse=True)

    def _live_rejection_groups(
        self, spans: Sequence[Span], search: RejectionSearch | None = None
    ) -> list[RejectionGroup]:
        r = rejections
        day = _day(self.conn, r.c.received_at).label("day")
        found = []
        for span in spans:
            query = (
                select(
                    day,
                    r.c.code,
                    r.c.client_id,
                    r.c.source,
                    func.count().label("n"),
                    func.min(r.c.received_at).label("first_at"),
                    func.max(r.c.received_at).label("last_at"),
                )
                .where(r.c.received_at >= span.start, r.c.received_at < span.end)
                .group_by(day, r.c.code, r.c.client_id, r.c.source)
            )
            if search is not None and search.code:
                query = query.where(r.c.code == search.code)
            if search is not None and search.client_id:
                query = query.where(r.c.client_id == search.client_id)
            if search is not None and search.source:
                query = query.where(r.c.source == search.source)
            found += [
                RejectionGroup(
                    day=str(g.day),
                    code=g.code,
                    client_id=g.client_id,
                    source=g.source,
                    count=int(g.n),
                    first_at=as_utc(g.first_at),
                    last_at=as_utc(g.last_at),
                )
                for g in self.conn.execute(query)
            ]
        return found

    def periods(self) -> list[PeriodInfo]:
        """Every period with a row or with PENDING transactions, newest first, as
        :meth:`~asap_sync.storage.statement_queries.SqlStatementQueries.periods` lists them.

        A period that never began to close (no row) has all its transactions PENDING: its
        pending count is its accepted syncs, from the day summaries and the live days. The
        others count their PENDING transactions live (after a close, only the few carried).
        """
        pending = [str(p) for p in self.conn.execute(text(_PENDING_PERIODS)).scalars()]
        rows = {r.period: r for r in self.conn.execute(select(settlement_periods))}
        unclosed: dict[str, int] | None = None
        infos = []
        for period in sorted(set(pending) | set(rows), reverse=True):
            row = rows.get(period)
            if row is None:
                if unclosed is None:
                    unclosed = self.accepted_by_period(self.first_day())
                count = unclosed.get(period, 0)
            else:
                count = self.pending_in(period)
            infos.append(period_info(period, row, count))
        return infos

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


def _row(r: Any) -> TransactionRow:
    return TransactionRow(**{c: getattr(r, c) for c in _ROW_COLUMNS})


@contextmanager
def console_queries(engine: Engine) -> Iterator[SqlConsoleQueries]:
    """Queries on one read-only connection, held while the caller reads."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield SqlConsoleQueries(conn)
