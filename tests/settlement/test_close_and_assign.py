"""Closing and assigning periods through the real use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from asap_sync.domain.errors import CommissionNotPending
from asap_sync.domain.model import CommissionStatus
from asap_sync.domain.settlement import (
    EarlierPeriodUnclosed,
    PeriodInFuture,
    PeriodNotClosed,
    PeriodStatus,
    PeriodStillRunning,
    StatementStatus,
)
from asap_sync.service.settlement import close_period
from asap_sync.storage.settlement import SqlSettlementUnitOfWork
from asap_sync.storage.statement_queries import statement_queries
from asap_sync.storage.tables import transactions

from .kit import T0, ZONE, Ledger, register


@pytest.fixture
def ledger(settle_engine: Engine) -> Ledger:
    register(settle_engine, ["M1", "M2"])
    return Ledger(settle_engine)


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(transactions.c.out_trans_id, transactions.c.status))
        return {r.out_trans_id: r.status for r in rows}


def test_closing_a_month_makes_one_sealed_statement_per_merchant(ledger: Ledger) -> None:
    ledger.pay("M1", "P1", 10_000, [("RENEWAL", 10_000)])
    ledger.pay("M1", "P2", 5_003)
    ledger.pay("M2", "P3", 20_000, [("NEW_CONTRACT", 20_000)])
    ledger.now = T0 + timedelta(days=30)

    report = ledger.close("2026-01")

    assert (report.statements_created, report.transactions_settled) == (2, 3)
    assert set(statuses(ledger.engine).values()) == {CommissionStatus.PROCESSING.value}
    with statement_queries(ledger.engine) as q:
        m1, m2 = list(q.statements(period="2026-01"))
        assert (m1.merchant_id, m1.totals.transaction_count, m1.line_count) == ("M1", 2, 2)
        # 10000 × 150 bp + 5003 × 100 bp = 1_500_000 + 500_300 e4 = 200.03 HKD... rounded once
        assert m1.commission_e4 == 10_000 * 150 + 5_003 * 100
        assert m1.commission_minor == 200
        assert m2.commission_e4 == 5_000 * 10_000
        assert len(m1.content_hash) == 64
    assert ledger.audit().ok


def test_closing_again_is_a_no_op_that_reports_the_period(ledger: Ledger) -> None:
    ledger.pay("M1", "P1", 10_000)
    ledger.now = T0 + timedelta(days=30)
    ledger.close("2026-01")

    again = ledger.close("2026-01")

    assert again.already_done and again.statement_count == 1
    assert again.transaction_count == 1


def test_the_running_month_needs_the_explicit_flag(ledger: Ledger) -> None:
    ledger.pay("M1", "P1", 10_000)
    with pytest.raises(PeriodStillRunning):
        ledger.close("2026-01")
    with pytest.raises(PeriodInFuture):
        ledger.close("2026-02", allow_open_month=True)

    report = ledger.close("2026-01", allow_open_month=True)

    assert report.statements_created == 1


def test_a_straggler_after_an_early_close_is_caught_by_the_next_close(ledger: Ledger) -> None:
    ledger.pay("M1", "P1", 10_000)
    ledger.close("2026-01", allow_open_month=True)
    ledger.pay("M1", "P2", 7_000)  # still January, after the close
    assert statuses(ledger.engine)["P2"] == "PENDING"
    assert ledger.audit().carried_forward == 1
    ledger.now = T0 + timedelta(days=40)

    report = ledger.close("2026-02", allow_open_month=True)

    assert report.transactions_settled == 1
    with statement_queries(ledger.engine) as q:
        (feb,) = q.statements(period="2026-02")
        (line,) = q.lines(feb.statement_id)
    assert (line.out_trans_id, line.accepted_period) == ("P2", "2026-01")
    assert ledger.audit().ok


def test_periods_close_in_order(ledger: Ledger) -> None:
    ledger.pay("M1", "P1", 10_000)
    ledger.now = T0 + timedelta(days=40)
    ledger.pay("M1", "P2", 10_000)
    ledger.now = T0 + timedelta(days=70)

    with pytest.raises(EarlierPeriodUnclosed, match="2026-01"):
        ledger.close("2026-02")
    ledger.close("2026-01")
    assert ledger.close("2026-02").transactions_settled == 1


def test_a_refund_of_a_processing_pay_lands_as_a_reversal_in_the_next_statement(
    ledger: Ledger,
) -> None:
    ledger.pay("M1", "P1", 10_000, [("RENEWAL", 6_000), ("NEW_CONTRACT", 4_000)])
    ledger.now = T0 + timedelta(days=30)
    ledger.close("2026-01")
    ledger.refund("M1", "R1", "P1", 5_000)
    ledger.now = T0 + timedelta(days=60)

    ledger.close("2026-02")

    with statement_queries(ledger.engine) as q:
        (jan,) = q.statements(period="2026-01")
        (feb,) = q.statements(period="2026-02")
        jan_lines = {line.line_id: line for line in q.lines(jan.statement_id)}
        feb_lines = list(q.lines(feb.statement_id))
    assert [line.rule_kind for line in feb_lines] == ["reversal", "reversal"]
    for line in feb_lines:
        reversed_line = jan_lines[line.reverses_line_id or 0]
        assert line.reverses_statement_id == jan.statement_id
        assert line.origin_out_trans_id == "P1"
        assert line.commission_e4 == -reversed_line.commission_e4 // 2
    assert feb.commission_e4 == -jan.commission_e4 // 2
    assert feb.totals.refunded_minor == 5_000
    assert ledger.audit().ok


def test_goods_cannot_change_once_the_commission_is_processing(ledger: Ledger) -> None:
    date = T0 - timedelta(hours=1)
    ledger.pay("M1", "P1", 10_000, [("RENEWAL", 10_000)], trans_date=date)
    ledger.now = T0 + timedelta(days=20)
    ledger.close("2026-01", allow_open_month=True)

    with pytest.raises(CommissionNotPending):
        ledger.pay("M1", "P1", 10_000, [("NEW_CONTRACT", 10_000)], trans_date=date)


def test_assigning_moves_the_statements_and_their_transactions(ledger: Ledger) -> None:
    ledger.pay("M1", "P1", 10_000)
    ledger.pay("M2", "P2", 10_000)
    ledger.now = T0 + timedelta(days=30)
    with pytest.raises(PeriodNotClosed):
        ledger.assign("2026-01")
    ledger.close("2026-01")

    report = ledger.assign("2026-01")

    assert (report.statements_assigned, report.transactions_assigned) == (2, 2)
    assert set(statuses(ledger.engine).values()) == {"ASSIGNED"}
    assert ledger.assign("2026-01").already_done
    with statement_queries(ledger.engine) as q:
        assert {s.status for s in q.statements()} == {StatementStatus.ASSIGNED}
        (info,) = q.periods()
        assert info.status is PeriodStatus.ASSIGNED
    assert ledger.audit().ok


def test_a_close_interrupted_half_way_finishes_when_run_again(ledger: Ledger) -> None:
    ledger.pay("M1", "P1", 10_000)
    ledger.pay("M2", "P2", 10_000)
    ledger.now = T0 + timedelta(days=30)
    calls = 0

    class Crashing(SqlSettlementUnitOfWork):
        def commit(self) -> None:
            nonlocal calls
            calls += 1
            if calls == 3:  # start committed, M1 committed, crash before M2
                raise RuntimeError("power cut")
            super().commit()

    with pytest.raises(RuntimeError):
        close_period(lambda: Crashing(ledger.engine), period="2026-01", now=ledger.now, zone=ZONE)
    assert sorted(statuses(ledger.engine).values()) == ["PENDING", "PROCESSING"]
    audit = ledger.audit()
    assert audit.by_check == {"period-incomplete": 1}

    report = ledger.close("2026-01")

    assert (report.statements_created, report.statement_count) == (1, 2)
    assert ledger.audit().ok
