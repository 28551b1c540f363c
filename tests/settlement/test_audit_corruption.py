"""The audit finds deliberate corruption of the ledger, the statements and the raw requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, select, update

from asap_sync.storage.tables import (
    commission_lines,
    raw_requests,
    statement_lines,
    statements,
    transactions,
)

from .kit import T0, Ledger, register


@pytest.fixture
def ledger(settle_engine: Engine) -> Ledger:
    """January closed (a pay with two goods, a default-rule pay), a February refund pending."""
    register(settle_engine, ["M1"])
    ledger = Ledger(settle_engine)
    ledger.pay("M1", "P1", 10_000, [("RENEWAL", 6_000), ("NEW_CONTRACT", 4_000)])
    ledger.pay("M1", "P2", 5_003)
    ledger.now = T0 + timedelta(days=30)
    ledger.close("2026-01")
    ledger.refund("M1", "R1", "P1", 2_500)
    assert ledger.audit().ok
    return ledger


def execute(engine: Engine, statement: object) -> None:
    with engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def transaction_id(engine: Engine, out_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(transactions.c.transaction_id).where(transactions.c.out_trans_id == out_id)
            ).scalar_one()
        )


def test_a_doubled_commission_line_is_found(ledger: Ledger) -> None:
    p2 = transaction_id(ledger.engine, "P2")
    with ledger.engine.begin() as conn:
        line = conn.execute(
            select(commission_lines).where(commission_lines.c.transaction_id == p2)
        ).one()
        copy = {k: v for k, v in line._asdict().items() if k != "line_id"}
        conn.execute(insert(commission_lines), copy)

    checks = ledger.audit().by_check

    assert checks["double-line"] == 1
    assert checks["line-not-in-statement"] == 1
    assert checks["lines-mismatch"] == 1


def test_a_tampered_line_amount_is_found(ledger: Ledger) -> None:
    execute(
        ledger.engine,
        update(commission_lines)
        .where(commission_lines.c.transaction_id == transaction_id(ledger.engine, "P2"))
        .values(commission_e4=commission_lines.c.commission_e4 + 10_000),
    )

    report = ledger.audit()

    assert {"statement-line-diverges", "line-snapshot"} <= set(report.by_check)
    assert any("P2" in v.subject for v in report.violations)


def test_a_tampered_statement_line_breaks_the_seal_and_the_total(ledger: Ledger) -> None:
    execute(
        ledger.engine,
        update(statement_lines)
        .where(statement_lines.c.out_trans_id == "P1", statement_lines.c.line_no == 1)
        .values(commission_e4=statement_lines.c.commission_e4 - 1),
    )

    checks = ledger.audit().by_check

    assert {"statement-line-diverges", "statement-total", "statement-seal"} <= set(checks)


def test_a_tampered_transaction_amount_is_found(ledger: Ledger) -> None:
    execute(
        ledger.engine,
        update(transactions).where(transactions.c.out_trans_id == "P2").values(amount_minor=5_004),
    )

    checks = ledger.audit().by_check

    assert {"amount-mismatch", "statement-transactions", "statement-line-diverges"} <= set(checks)


def test_an_edited_raw_body_no_longer_verifies(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        raw_id, body = conn.execute(
            select(raw_requests.c.raw_request_id, raw_requests.c.body)
            .join(transactions, transactions.c.raw_request_id == raw_requests.c.raw_request_id)
            .where(transactions.c.out_trans_id == "P2")
        ).one()
        edited = bytes(body).replace(b'"5003"', b'"9003"')
        assert edited != bytes(body)
        conn.execute(
            update(raw_requests).where(raw_requests.c.raw_request_id == raw_id).values(body=edited)
        )

    report = ledger.audit()

    assert report.by_check["signature"] == 1
    assert report.by_check["amount-mismatch"] == 1
    (signature,) = [v for v in report.violations if v.check == "signature"]
    assert "P2" in signature.subject and "no longer verifies" in signature.detail


def test_an_edited_stored_content_differs_from_the_signed_request(ledger: Ledger) -> None:
    execute(
        ledger.engine,
        update(transactions)
        .where(transactions.c.out_trans_id == "R1")
        .values(content=transactions.c.content + " "),
    )
    with ledger.engine.connect() as conn:
        content = conn.execute(
            select(transactions.c.content).where(transactions.c.out_trans_id == "P1")
        ).scalar_one()
    execute(
        ledger.engine,
        update(transactions)
        .where(transactions.c.out_trans_id == "P1")
        .values(content=content.replace('"userId"', '"phone"')),
    )

    report = ledger.audit()

    assert report.by_check["content-mismatch"] == 1
    assert "entityType" in report.violations[0].detail


@pytest.mark.parametrize("column", ["commission_e4", "commission_minor"])
def test_a_statement_total_off_by_one_is_found(ledger: Ledger, column: str) -> None:
    execute(
        ledger.engine,
        update(statements).values({column: statements.c[column] + 1}),
    )

    report = ledger.audit()

    assert report.by_check["statement-total"] == 1
    assert not report.ok


def test_a_refund_beyond_its_origin_is_found(ledger: Ledger) -> None:
    execute(
        ledger.engine,
        update(transactions).where(transactions.c.out_trans_id == "R1").values(amount_minor=10_001),
    )

    checks = ledger.audit().by_check

    assert checks["refund-exceeds-origin"] == 1


def test_an_over_reversal_is_found(ledger: Ledger) -> None:
    refund_id = transaction_id(ledger.engine, "R1")
    execute(
        ledger.engine,
        update(commission_lines)
        .where(commission_lines.c.transaction_id == refund_id, commission_lines.c.line_no == 1)
        .values(commission_e4=-(10**9)),
    )

    checks = ledger.audit().by_check

    assert checks["reversal-exceeds-earned"] == 1


def test_a_settled_transaction_put_back_to_pending_is_found(ledger: Ledger) -> None:
    execute(
        ledger.engine,
        update(transactions).where(transactions.c.out_trans_id == "P1").values(status="PENDING"),
    )

    report = ledger.audit()

    assert report.by_check["transaction-placement"] == 1
    assert "is PENDING but names statement" in report.violations[0].detail
