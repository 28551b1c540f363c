"""The console's day summaries: the counts of UTC days that are over, filled lazily.

Acceptance and rejection times only grow (they are the server's clock when the row is
written), so once a day has ended its counts never change: a day is summarized the first time a
page needs it, in its own short write, and read from ``console_day_counts`` from then on.
Nothing on the ingestion path writes here. Days not summarized yet (today, the hour after
midnight, a day whose summary could not be written) are counted live, so every figure built
from both is exact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, literal_column, select
from sqlalchemy.exc import IntegrityError

from asap_sync.storage.engine import READ_ONLY, write_lock
from asap_sync.storage.ledger_read import as_utc
from asap_sync.storage.tables import console_day_counts, console_days, rejections, transactions

log = logging.getLogger("asap_sync.console")

# A day is summarized once it ended this long ago: a sync accepted at 23:59:59 commits within
# seconds, counted rejections of unauthenticated callers are written within an interval (10 s).
SETTLED = timedelta(hours=1)
ACCEPTED, REJECTED = "accepted", "rejected"
DAY = timedelta(days=1)
Row = dict[str, Any]


def day_start(day: date) -> datetime:
    """Midnight UTC opening ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def utc_day(moment: datetime) -> date:
    """The UTC day ``moment`` falls on."""
    return moment.astimezone(UTC).date()


def last_summarizable(now: datetime) -> date:
    """The first day that is not summarized yet at ``now`` (every earlier one may be)."""
    return utc_day(now - SETTLED)


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range of time counted live."""

    start: datetime
    end: datetime


def live_spans(
    start: datetime, end: datetime, summarized: Iterable[str]
) -> tuple[list[Span], list[str]]:
    """Split ``[start, end)`` into the summarized whole days inside it and the spans to count
    live (merged where adjacent)."""
    done = set(summarized)
    spans: list[Span] = []
    days: list[str] = []
    cursor = start
    while cursor < end:
        day = utc_day(cursor)
        following = min(day_start(day) + DAY, end)
        whole = cursor == day_start(day) and following == day_start(day) + DAY
        if whole and day.isoformat() in done:
            days.append(day.isoformat())
        elif spans and spans[-1].end == cursor:
            spans[-1] = Span(spans[-1].start, following)
        else:
            spans.append(Span(cursor, following))
        cursor = following
    return spans, days


class DaySummaries:
    """Fills the summaries of the days a page needs (never today's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure(self, first: date, end: date, now: datetime) -> None:
        """Summarize every day from ``first`` to before ``end`` that is over and not yet done.

        A day that cannot be written (a read-only database, a lock) stays live: logged, not
        raised, so the page still answers with exact (slower) counts.
        """
        end = min(end, last_summarizable(now))
        if first >= end:
            return
        with self._reading() as conn:
            done = set(summarized_days(conn, first, end))
        missing = [d for d in _days(first, end) if d.isoformat() not in done]
        for day in missing:
            try:
                self._summarize(day, now)
            except Exception:
                log.exception("could not summarize %s; it is counted live", day)
                return

    def ensure_all(self, now: datetime) -> None:
        """Summarize every day since the first acceptance or rejection."""
        with self._reading() as conn:
            firsts = [
                conn.execute(select(func.min(transactions.c.accepted_at))).scalar_one(),
                conn.execute(select(func.min(rejections.c.received_at))).scalar_one(),
            ]
        known = [utc_day(as_utc(f)) for f in firsts if f is not None]
        if known:
            self.ensure(min(known), last_summarizable(now), now)

    def _summarize(self, day: date, now: datetime) -> None:
        start, end = day_start(day), day_start(day) + DAY
        with self._reading() as conn:  # the day is over: what is read now is final
            rows = list(_accepted_rows(conn, day, start, end))
            rows += list(_rejected_rows(conn, day, start, end))
        with write_lock(self.engine), self.engine.begin() as conn:
            try:
                conn.execute(insert(console_days), [{"day": day.isoformat(), "summarized_at": now}])
            except IntegrityError:  # another page summarized it meanwhile
                conn.rollback()
                return
            if rows:
                conn.execute(insert(console_day_counts), rows)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn


def _days(first: date, end: date) -> Iterator[date]:
    day = first
    while day < end:
        yield day
        day += DAY


def _accepted_rows(
    conn: Connection, day: date, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    t = transactions
    query = (
        select(
            t.c.period,
            func.count().label("n"),
            func.min(t.c.accepted_at).label("first_at"),
            func.max(t.c.accepted_at).label("last_at"),
        )
        .where(t.c.accepted_at >= start, t.c.accepted_at < end)
        .group_by(t.c.period)
    )
    for r in conn.execute(query):
        yield _count_row(day, ACCEPTED, r, period=r.period)


def _rejected_rows(
    conn: Connection, day: date, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    r = rejections
    client_id = func.coalesce(r.c.client_id, literal_column("''"))
    source = func.coalesce(r.c.source, literal_column("''"))
    query = (
        select(
            r.c.code,
            client_id.label("client_id"),
            source.label("source"),
            func.count().label("n"),
            func.min(r.c.received_at).label("first_at"),
            func.max(r.c.received_at).label("last_at"),
        )
        .where(r.c.received_at >= start, r.c.received_at < end)
        .group_by(r.c.code, client_id, source)
    )
    for g in conn.execute(query):
        yield _count_row(day, REJECTED, g, code=g.code, client_id=g.client_id, source=g.source)


def _count_row(day: date, kind: str, r: Any, **keys: str) -> dict[str, Any]:
    return {
        "day": day.isoformat(),
        "kind": kind,
        "period": "",
        "code": "",
        "client_id": "",
        "source": "",
        **keys,
        "count": int(r.n),
        "first_at": as_utc(r.first_at),
        "last_at": as_utc(r.last_at),
    }


def summarized_days(conn: Connection, first: date, end: date) -> list[str]:
    """The summarized days from ``first`` to before ``end``."""
    d = console_days.c.day
    query = select(d).where(d >= first.isoformat(), d < end.isoformat())
    return list(conn.execute(query).scalars())


def summary_rows(conn: Connection, kind: str, days: Sequence[str], *where: Any) -> list[Any]:
    """The stored counts of ``kind`` on ``days`` (a run of days: read as a range)."""
    if not days:
        return []
    c = console_day_counts
    query = select(c).where(
        c.c.kind == kind, c.c.day >= min(days), c.c.day <= max(days), c.c.day.in_(days), *where
    )
    return list(conn.execute(query))
