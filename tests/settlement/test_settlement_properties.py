"""Property tests: random pays, refunds, goods updates, closes and assigns.

After every step the audit must find nothing. After every close, each statement must hold
exactly the transactions an independent model says, and its totals must equal a recomputation
made from the raw request bodies stored in the database (parsed with ``json`` alone).
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from asap_sync.domain.errors import CommissionNotPending, GoodsUpdateTooLate, RefundExceedsOrigin
from asap_sync.domain.money import round_e4_to_minor
from asap_sync.domain.periods import period_of
from asap_sync.domain.settlement import next_period
from asap_sync.storage.engine import make_engine
from asap_sync.storage.statement_queries import statement_queries
from asap_sync.storage.tables import raw_requests, transactions

from .conftest import truncate
from .kit import DEFAULT_RATE_BP, RULES, ZONE, Ledger, body_of, register

MERCHANTS = ("M1", "M2")
goods_item = st.tuples(st.sampled_from(["RENEWAL", "NEW_CONTRACT"]), st.integers(1, 50_000))
goods_list = st.lists(goods_item, max_size=3)
pay = st.tuples(
    st.just("pay"), st.sampled_from(MERCHANTS), st.none() | st.integers(1, 200_000), goods_list
)
refund = st.tuples(st.just("refund"), st.integers(0, 50), st.none() | st.integers(1, 150_000))
update = st.tuples(st.just("update"), st.integers(0, 50), goods_list)
close = st.tuples(st.just("close"), st.booleans())
assign = st.tuples(st.just("assign"))
advance = st.tuples(st.just("advance"), st.integers(3, 40))
# Pays and refunds come more often than the rest, so statements have something to settle.
steps = st.lists(
    st.one_of(pay, pay, pay, refund, refund, update, close, close, assign, advance, advance),
    min_size=10,
    max_size=30,
)


@dataclass
class Tx:
    """The model's view of one transaction."""

    out_id: str
    merchant: str
    trans_date: datetime
    trade: int | None
    goods: list[tuple[str, int]]
    amount: int
    origin: str | None = None
    status: str = "PENDING"
    statement: tuple[str, str] | None = None


@dataclass
class Model:
    """Which transaction is where, decided without looking at the system."""

    txs: dict[str, Tx] = field(default_factory=dict)
    next_close: str = "2026-01"
    closed: list[str] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)

    def pays(self) -> list[Tx]:
        return [t for t in self.txs.values() if t.origin is None]

    def refunded(self, origin: str) -> int:
        return sum(t.amount for t in self.txs.values() if t.origin == origin)


def run_steps(engine: Engine, plan: list[tuple[Any, ...]]) -> None:
    register(engine, MERCHANTS)
    ledger, model = Ledger(engine), Model()
    for n, step in enumerate(plan):
        apply_step(ledger, model, n, step)
        report = ledger.audit()
        assert report.ok, [v.as_dict() for v in report.violations]
        if step[0] == "close":
            check_statements(engine, model)


def apply_step(ledger: Ledger, model: Model, n: int, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "pay":
        _pay(ledger, model, n, step[1], step[2], step[3])
    elif kind == "refund":
        _refund(ledger, model, n, step[1], step[2])
    elif kind == "update":
        _update(ledger, model, step[1], step[2])
    elif kind == "close":
        _close(ledger, model, allow_open_month=step[1])
    elif kind == "assign" and len(model.assigned) < len(model.closed):
        period = model.closed[len(model.assigned)]
        ledger.assign(period)
        model.assigned.append(period)
        for tx in model.txs.values():
            if tx.statement and tx.statement[0] == period:
                tx.status = "ASSIGNED"
    elif kind == "advance":
        ledger.now += timedelta(days=step[1])


def _pay(
    ledger: Ledger, model: Model, n: int, merchant: str, trade: int | None, goods: Any
) -> None:
    if trade is None and not goods:
        trade = 1_000
    out_id, date = f"P{n}", ledger.now - timedelta(hours=1)
    ledger.pay(merchant, out_id, trade, goods, trans_date=date)
    amount = trade if trade is not None else sum(p for _, p in goods)
    model.txs[out_id] = Tx(
        out_id=out_id, merchant=merchant, trans_date=date, trade=trade, goods=goods, amount=amount
    )


def _refund(ledger: Ledger, model: Model, n: int, pick: int, amount: int | None) -> None:
    pays = model.pays()
    if not pays:
        return
    origin = pays[pick % len(pays)]
    remaining = origin.amount - model.refunded(origin.out_id)
    refunds = [t for t in model.txs.values() if t.origin == origin.out_id]
    fully_refunded = amount is None and remaining == 0 and bool(refunds)
    if fully_refunded or (amount is not None and amount > remaining):
        with pytest.raises(RefundExceedsOrigin):
            ledger.refund(origin.merchant, f"R{n}", origin.out_id, amount)
        return
    ledger.refund(origin.merchant, f"R{n}", origin.out_id, amount)
    model.txs[f"R{n}"] = Tx(
        out_id=f"R{n}",
        merchant=origin.merchant,
        trans_date=ledger.now,
        trade=amount,
        goods=[],
        amount=remaining if amount is None else amount,
        origin=origin.out_id,
    )


def _update(ledger: Ledger, model: Model, pick: int, goods: Any) -> None:
    pays = model.pays()
    if not pays:
        return
    tx = pays[pick % len(pays)]
    if not goods or goods == tx.goods:
        return
    body = body_of(
        merchant=tx.merchant,
        out_id=tx.out_id,
        request_id=f"u-{uuid.uuid4().hex[:8]}",
        trans_date=tx.trans_date,
        amount=tx.trade,
        goods=goods,
        note="updated",
    )
    # Without tradeAmt a pay is worth its goods, so an update moves its amount too.
    amount = tx.amount if tx.trade is not None else sum(p for _, p in goods)
    if tx.status != "PENDING":
        with pytest.raises(CommissionNotPending):
            ledger.send(body)
    elif ledger.now > tx.trans_date + timedelta(days=30):
        with pytest.raises(GoodsUpdateTooLate):
            ledger.send(body)
    elif amount < model.refunded(tx.out_id):
        with pytest.raises(RefundExceedsOrigin):
            ledger.send(body)
    else:
        ledger.send(body)
        tx.goods, tx.amount = goods, amount


def _close(ledger: Ledger, model: Model, *, allow_open_month: bool) -> None:
    period, current = model.next_close, period_of(ledger.now, ZONE)
    if period > current or (period == current and not allow_open_month):
        return
    ledger.close(period, allow_open_month=allow_open_month)
    accepted = _accepted_periods(ledger.engine)
    for tx in model.txs.values():
        if tx.status == "PENDING" and accepted[tx.out_id] <= period:
            tx.status, tx.statement = "PROCESSING", (period, tx.merchant)
    model.closed.append(period)
    model.next_close = next_period(period)


def _accepted_periods(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(transactions.c.out_trans_id, transactions.c.period))
        return {r.out_trans_id: r.period for r in rows}


def check_statements(engine: Engine, model: Model) -> None:
    """Membership from the model; amounts recomputed from the stored raw bodies."""
    recomputed = recompute_from_raw_bodies(engine)
    with statement_queries(engine) as q:
        found = {(s.period, s.merchant_id): s for s in q.statements()}
        members = {
            key: sorted(line.out_trans_id for line in q.lines(s.statement_id))
            for key, s in found.items()
        }
    expected: dict[tuple[str, str], list[str]] = {}
    for tx in model.txs.values():
        if tx.statement is not None:
            expected.setdefault(tx.statement, []).append(tx.out_id)
    assert set(found) == set(expected)
    for key, statement in found.items():
        out_ids = expected[key]
        assert sorted(set(members[key])) == sorted(out_ids)
        earned = sum(recomputed[o] for o in out_ids)
        assert statement.commission_e4 == earned
        assert statement.commission_minor == round_e4_to_minor(earned)
        pays = [model.txs[o] for o in out_ids if model.txs[o].origin is None]
        assert statement.totals.gross_minor == sum(t.amount for t in pays)
        assert statement.totals.transaction_count == len(out_ids)


def recompute_from_raw_bodies(engine: Engine) -> dict[str, int]:
    """Each transaction's commission (e4) from the raw request that last defined it."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(transactions.c.amount_minor, raw_requests.c.body)
            .join(raw_requests, raw_requests.c.raw_request_id == transactions.c.raw_request_id)
            .order_by(transactions.c.transaction_id)
        ).all()
    bodies = [(r.amount_minor, json.loads(bytes(r.body))) for r in rows]
    pays = {b["outTransId"]: b for _, b in bodies if b["transDirection"] == "pay"}
    result: dict[str, int] = {}
    refunded: dict[str, int] = {}
    for stored_amount, body in bodies:
        if body["transDirection"] == "pay":
            result[body["outTransId"]] = sum(_earned(body))
            continue
        origin = pays[body["originTransId"]]
        amount = _amount(origin)
        before = refunded.get(origin["outTransId"], 0)
        # A refund without tradeAmt refunded what remained when it was accepted: stored.
        value = int(body["tradeAmt"]["value"]) if "tradeAmt" in body else stored_amount
        after = before + value
        refunded[origin["outTransId"]] = after
        result[body["outTransId"]] = -sum(
            e * after // amount - e * before // amount for e in _earned(origin)
        )
    return result


def _amount(created: dict[str, Any]) -> int:
    """A pay is worth its tradeAmt, or without one its goods (as last sent)."""
    if "tradeAmt" in created:
        return int(created["tradeAmt"]["value"])
    return sum(int(g["goodsPrice"]["value"]) for g in created["extendInfo"]["goodsInfoList"])


def _earned(body: dict[str, Any]) -> list[int]:
    goods = body.get("extendInfo", {}).get("goodsInfoList", [])
    if not goods:
        return [int(body["tradeAmt"]["value"]) * DEFAULT_RATE_BP]
    earned = []
    for item in goods:
        kind, value = RULES[item["goodsCode"]]
        price = int(item["goodsPrice"]["value"])
        earned.append(price * value if kind == "rate" else value * 10_000)
    return earned


PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@PROPERTY_SETTINGS
@given(plan=steps)
def test_random_histories_keep_every_invariant_and_statements_match_the_raw_requests(
    kind: str, plan: list[tuple[Any, ...]], request: pytest.FixtureRequest, tmp_path_factory: Any
) -> None:
    url = _fresh(kind, request, tmp_path_factory)
    engine = make_engine(url)
    try:
        run_steps(engine, plan)
    finally:
        engine.dispose()


def _fresh(kind: str, request: pytest.FixtureRequest, tmp_path_factory: Any) -> str:
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("prop") / "db.sqlite3"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("settlement_postgres")
    engine = make_engine(url)
    truncate(engine)
    engine.dispose()
    return url
