"""The console's day summaries: filled lazily, only for days that are over, and always equal to
the live counts they stand for (overview, rejections, periods)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from asap_sync.service.console_views import RejectionSearch
from asap_sync.service.ports import Rejection
from asap_sync.storage.console_queries import console_queries
from asap_sync.storage.console_summaries import (
    SETTLED,
    DaySummaries,
    day_start,
    last_summarizable,
    live_spans,
)
from asap_sync.storage.directory import SqlRejectionLog
from asap_sync.storage.statement_queries import statement_queries
from asap_sync.storage.tables import console_day_counts, console_days
from tests.console.conftest import Site


def _reject(site: Site, at: datetime, code: str, source: str, client: str | None = "C") -> None:
    SqlRejectionLog(site.engine).record(
        Rejection(received_at=at, code=code, context="test", client_id=client, source=source)
    )


def _spread(site: Site) -> None:
    """Syncs and rejections on several January days, some near midnight."""
    ledger = site.ledger
    for n, at in enumerate(
        [
            datetime(2026, 1, 20, 23, 59, 59, tzinfo=UTC),
            datetime(2026, 1, 21, 0, 0, 0, tzinfo=UTC),
            datetime(2026, 1, 21, 12, 0, tzinfo=UTC),
            datetime(2026, 1, 31, 17, 0, tzinfo=UTC),  # February in Hong Kong
        ]
    ):
        ledger.now = at
        ledger.pay("M-2", f"spread-{n}", 1_000 + n)
        _reject(site, at, "INVALID_SIGNATURE", "203.0.113.7", client=None)
        _reject(site, at, "REQUEST_PARAM_ILLEGAL", "198.51.100.1")
    for _ in range(5):  # a flood: one row per day, code, client and source
        _reject(site, datetime(2026, 1, 21, 3, 0, tzinfo=UTC), "INVALID_SIGNATURE", "192.0.2.9")


def _live_groups(site: Site, since: datetime, until: datetime) -> set[tuple[object, ...]]:
    with console_queries(site.engine) as q:
        spans, _ = live_spans(since, until, [])
        return {
            (g.day, g.code, g.client_id, g.source, g.count, g.first_at, g.last_at)
            for g in q._live_rejection_groups(spans)
        }


def test_a_summary_equals_the_live_count_it_stands_for(site: Site) -> None:
    _spread(site)
    now = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(41)]
    with console_queries(site.engine) as q:
        live_accepted = [
            q.accepted_between(day_start(d), day_start(d) + timedelta(1)) for d in days
        ]
        live_rejected = q.rejections_per_day(days)
        live_periods = {p.period: p.pending_count for p in q.periods()}
    since, until = day_start(days[0]), now
    live = _live_groups(site, since, until)

    DaySummaries(site.engine).ensure_all(now)
    with site.engine.connect() as conn:
        done = set(conn.execute(select(console_days.c.day)).scalars())
        assert conn.execute(select(func.count()).select_from(console_day_counts)).scalar_one()
    assert "2026-01-05" in done and "2026-02-09" in done and "2026-02-10" not in done
    with console_queries(site.engine) as q:
        assert q.accepted_per_day(days) == live_accepted
        assert q.rejections_per_day(days) == live_rejected
        search = RejectionSearch(since=since, until=until)
        summarized = {
            (g.day, g.code, g.client_id, g.source, g.count, g.first_at, g.last_at)
            for g in q.rejection_groups(search)
        }
        assert {p.period: p.pending_count for p in q.periods()} == live_periods
    assert summarized == live
    flood = [g for g in summarized if g[3] == "192.0.2.9"]
    assert len(flood) == 1 and flood[0][4] == 5
    with statement_queries(site.engine) as s:
        assert {p.period: p.pending_count for p in s.periods()} == live_periods


def test_a_day_is_summarized_only_once_it_is_settled(site: Site) -> None:
    _spread(site)
    end_of_21st = day_start(date(2026, 1, 22))
    DaySummaries(site.engine).ensure(
        date(2026, 1, 20), date(2026, 1, 23), end_of_21st + SETTLED / 2
    )
    with site.engine.connect() as conn:
        done = set(conn.execute(select(console_days.c.day)).scalars())
    assert done == {"2026-01-20"}
    assert last_summarizable(end_of_21st + SETTLED) == date(2026, 1, 22)
    # A rejection written late (a counted flood, by its first time) still lands in a live day.
    _reject(site, end_of_21st - timedelta(seconds=5), "INVALID_SIGNATURE", "192.0.2.10")
    with console_queries(site.engine) as q:
        per_code = q.rejections_per_day([date(2026, 1, 21)])
    assert per_code["INVALID_SIGNATURE"] == [2 + 5 + 1]  # two syncs, the flood, the late one


def test_periods_stay_exact_across_a_close_with_carried_transactions(site: Site) -> None:
    _spread(site)
    ledger = site.ledger
    ledger.now = datetime(2026, 2, 3, 4, 0, tzinfo=UTC)
    ledger.close("2026-01")
    ledger.now = datetime(2026, 2, 20, 4, 0, tzinfo=UTC)
    ledger.close("2026-02", allow_open_month=True)
    ledger.now = datetime(2026, 2, 21, 4, 0, tzinfo=UTC)
    ledger.pay("M-1", "carried-1", 7_000)  # February, after its close: carried forward
    ledger.now = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    ledger.pay("M-1", "march-1", 9_000)
    DaySummaries(site.engine).ensure_all(ledger.now)
    with console_queries(site.engine) as q:
        fast = q.periods()
    with statement_queries(site.engine) as s:
        slow = list(s.periods())
    assert fast == slow
    assert {p.period: p.pending_count for p in fast}["2026-02"] == 1


def test_the_pages_show_sources_and_say_what_is_live(site: Site) -> None:
    _spread(site)
    site.ledger.now = datetime(2026, 1, 25, 12, 0, tzinfo=UTC)
    client = site.login("vic")
    page = client.get("/console/rejections?days=7").text
    assert "192.0.2.9" in page and "198.51.100.1" in page
    assert "come from the day summaries" in page
    only = client.get("/console/rejections?days=7&source=192.0.2.9").text
    assert "192.0.2.9" in only and "198.51.100.1" not in only
    assert "come from the day summaries" in client.get("/console/").text
    with site.engine.connect() as conn:
        done = set(conn.execute(select(console_days.c.day)).scalars())
    assert "2026-01-24" in done and "2026-01-25" not in done


def test_the_listener_fills_the_summaries_as_it_starts(site: Site) -> None:
    _spread(site)
    with site.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(console_days)).scalar_one() == 0
    with site.client():  # the app's lifespan runs: startup, then shutdown
        deadline = time.monotonic() + 30
        summarized = 0
        while time.monotonic() < deadline:
            with site.engine.connect() as conn:
                summarized = conn.execute(
                    select(func.count()).select_from(console_days)
                ).scalar_one()
            if summarized:
                break
            time.sleep(0.05)
    assert summarized > 0  # before any page asked for a day
