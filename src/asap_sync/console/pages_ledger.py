"""Console pages of the ledger: overview, transactions (search, detail, re-verify), rejections."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from starlette.responses import Response

from asap_sync.console.web import Ask
from asap_sync.service.admin_contracts import parse_moment
from asap_sync.service.admin_ports import AdminError
from asap_sync.service.audit_signatures import SignatureChecker
from asap_sync.service.console_views import RejectionSearch, TransactionSearch
from asap_sync.service.operator_ports import Role
from asap_sync.storage.console_queries import console_queries
from asap_sync.storage.console_summaries import (
    DaySummaries,
    day_start,
    last_summarizable,
    utc_day,
)

OVERVIEW_DAYS = 14
PAGE_SIZE = 50
RATE_WINDOW = timedelta(minutes=5)


def overview(ask: Ask) -> Response:
    """Syncs per day by result, commission per merchant per month, what awaits, last audit."""
    now = ask.console.clock()
    today = utc_day(now)
    days = [today - timedelta(days=n) for n in range(OVERVIEW_DAYS - 1, -1, -1)]
    DaySummaries(ask.console.engine).ensure(days[0], today, now)
    with console_queries(ask.console.engine) as q:
        accepted = q.accepted_per_day(days)
        rejected = q.rejections_per_day(days)
        months = q.commission_by_merchant_month(_months_back(now, 6))
        awaiting = q.periods_awaiting()
    with ask.console.operators(read_only=True) as uow:
        runs = uow.operators.audit_runs(1)
    daily = {
        "labels": [d.strftime("%m-%d") for d in days],
        "series": [{"label": "SUCCESS (accepted)", "data": accepted}]
        + [{"label": code, "data": counts} for code, counts in sorted(rejected.items())],
    }
    return ask.render(
        "overview.html",
        daily=daily,
        daily_json=_script_json(daily),
        monthly_json=_script_json(_monthly(months)),
        months=months,
        awaiting=awaiting,
        last_audit=runs[0] if runs else None,
        rate=_rate(ask, now),
        live_from=day_start(last_summarizable(now)),
    )


def _script_json(value: Any) -> str:
    """JSON that cannot end the ``<script type="application/json">`` element it sits in."""
    return json.dumps(value).replace("<", "\\u003c")


def ingestion_rate(ask: Ask) -> Response:
    """The live rate fragment, polled by htmx."""
    return ask.render("_rate.html", rate=_rate(ask, ask.console.clock()))


def _rate(ask: Ask, now: datetime) -> float:
    with console_queries(ask.console.engine) as q:
        count = q.accepted_between(now - RATE_WINDOW, now + timedelta(seconds=1))
    return count / RATE_WINDOW.total_seconds()


def _months_back(now: datetime, count: int) -> str:
    year, month = now.year, now.month - count + 1
    while month < 1:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}"


def _monthly(months: Any) -> dict[str, Any]:
    periods = sorted({m.period for m in months})
    by_merchant: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(periods))
    for m in months:
        by_merchant[m.merchant_id][periods.index(m.period)] = m.commission_minor / 100
    top = sorted(by_merchant.items(), key=lambda kv: -sum(kv[1]))[:10]
    return {"labels": periods, "series": [{"label": k, "data": v} for k, v in top]}


# -- transactions -------------------------------------------------------------------------

SEARCH_FIELDS = (
    "request_id",
    "out_trans_id",
    "origin_trans_id",
    "merchant_id",
    "client_id",
    "direction",
    "status",
    "period",
)


def transactions_page(ask: Ask) -> Response:
    """Search by id, merchant, client, direction, status, period and date; keyset pages."""
    values = {name: ask.query(name) for name in (*SEARCH_FIELDS, "from", "to", "before")}
    search = TransactionSearch(
        **{name: values[name] or None for name in SEARCH_FIELDS},
        accepted_from=_moment(values["from"], ask),
        accepted_to=_moment(values["to"], ask, end=True),
        before_id=int(values["before"]) if values["before"].isdigit() else None,
        limit=PAGE_SIZE + 1,
    )
    with console_queries(ask.console.engine) as q:
        rows = list(q.search_transactions(search))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    following = {k: v for k, v in values.items() if v and k != "before"}
    if more:
        following["before"] = str(rows[-1].transaction_id)
    return ask.render(
        "transactions.html", rows=rows, values=values, next_query=following if more else None
    )


def _moment(text: str, ask: Ask, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    moment = parse_moment(text, ask.console.zone)
    return moment + timedelta(days=1) if end and len(text) == 10 else moment


def transaction_page(ask: Ask) -> Response:
    """One transaction: raw signed request, commission lines, origin, refunds, statement."""
    transaction_id = int(ask.request.path_params["transaction_id"])
    with console_queries(ask.console.engine) as q:
        detail = q.transaction_detail(transaction_id)
    if detail is None:
        raise AdminError(f"no transaction {transaction_id}")
    raw = detail.raw_request
    body = raw.body.decode("utf-8", "replace") if raw else ""
    try:
        pretty = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = body
    return ask.render("transaction.html", d=detail, body=pretty)


def verify_transaction(ask: Ask) -> Response:
    """Re-verify the stored request's signature with the client's key (an htmx fragment)."""
    transaction_id = int(ask.request.path_params["transaction_id"])
    with console_queries(ask.console.engine) as q:
        detail = q.transaction_detail(transaction_id)
        if detail is None:
            raise AdminError(f"no transaction {transaction_id}")
        raw = detail.raw_request
        row = SimpleNamespace(
            raw_client_id=raw.client_id if raw else None,
            client_id=detail.transaction.client_id,
            key_version=raw.key_version if raw else 0,
            signature=raw.signature if raw else "",
            method=raw.method if raw else "",
            path=raw.path if raw else "",
            request_time=raw.request_time if raw else "",
            body=raw.body if raw else b"",
        )
        violation = SignatureChecker(q.client_key_pem).check(row, f"transaction {transaction_id}")
    verified_at = ask.console.clock()
    return ask.render("_verify.html", violation=violation, verified_at=verified_at)


def rejections_page(ask: Ask) -> Response:
    """Rejections by day, code and client: a flood is one aggregated row."""
    now = ask.console.clock()
    days = int(ask.query("days")) if ask.query("days").isdigit() else 7
    search = RejectionSearch(
        code=ask.query("code") or None,
        client_id=ask.query("client_id") or None,
        source=ask.query("source") or None,
        since=now - timedelta(days=max(1, min(days, 90))),
        until=now + timedelta(seconds=1),
    )
    DaySummaries(ask.console.engine).ensure(utc_day(search.since), utc_day(search.until), now)
    with console_queries(ask.console.engine) as q:
        groups = q.rejection_groups(search)
    return ask.render(
        "rejections.html",
        groups=groups,
        search=search,
        days=days,
        live_from=day_start(last_summarizable(now)),
    )


PAGES = [
    ("/", overview, Role.VIEWER, ["GET"]),
    ("/rate", ingestion_rate, Role.VIEWER, ["GET"]),
    ("/transactions", transactions_page, Role.VIEWER, ["GET"]),
    ("/transactions/{transaction_id:int}", transaction_page, Role.VIEWER, ["GET"]),
    ("/transactions/{transaction_id:int}/verify", verify_transaction, Role.VIEWER, ["POST"]),
    ("/rejections", rejections_page, Role.VIEWER, ["GET"]),
]
