"""Exports (CSV, JSON) and the operator commands, run in-process on a SQLite file."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from asap_sync.cli.main import app
from asap_sync.service import exports
from asap_sync.storage.engine import make_engine
from asap_sync.storage.statement_queries import statement_queries
from asap_sync.storage.tables import statements

from .conftest import fresh_database
from .kit import T0, Ledger, register


@pytest.fixture
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """January closed with two merchants; a refund of M1's pay pending in February."""
    url = fresh_database("sqlite", request, tmp_path)
    engine = make_engine(url)
    register(engine, ["M1", "M2"])
    ledger = Ledger(engine)
    ledger.pay("M1", "P1", 10_000, [("RENEWAL", 6_000), ("NEW_CONTRACT", 4_000)])
    ledger.pay("M2", "P2", 5_005)
    ledger.now = T0 + timedelta(days=30)
    ledger.close("2026-01")
    ledger.refund("M1", "R1", "P1", 2_500)
    engine.dispose()
    return url


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--database-url", url])
    return result.exit_code, result.output


def test_the_csv_export_has_one_row_per_line_with_minor_units_and_hkd(url: str) -> None:
    with statement_queries(make_engine(url)) as q:
        out = io.StringIO()
        count = exports.write_period_csv(q, "2026-01", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == 3 and len(rows) == 3
    assert tuple(rows[0]) == exports.CSV_COLUMNS
    renewal = rows[0]
    assert renewal["merchant_id"] == "M1" and renewal["goods_code"] == "RENEWAL"
    assert (renewal["base_minor"], renewal["base_hkd"]) == ("6000", "60.00")
    assert (renewal["commission_e4"], renewal["commission_hkd"]) == ("900000", "0.900000")
    assert rows[2]["reverses_line_id"] == ""


def test_the_json_export_of_a_statement_parses_and_carries_totals_and_lines(url: str) -> None:
    with statement_queries(make_engine(url)) as q:
        (m2,) = q.statements(merchant_id="M2")
        out = io.StringIO()
        exports.write_statement_json(q, m2.statement_id, out)
    data = json.loads(out.getvalue())
    assert data["commissionE4"] == 5_005 * 100
    assert (data["commissionMinor"], data["commissionHkd"]) == (50, "0.50")  # 50.05 ¢ → 50 ¢
    assert data["contentHash"] == m2.content_hash
    (line,) = data["lines"]
    assert line["ruleKind"] == "default" and line["transactionAmountHkd"] == "50.05"


def test_periods_and_statements_commands_print_json_for_scripts(url: str) -> None:
    code, out = run(url, "periods", "list", "--json")
    assert code == 0
    assert [(p["period"], p["status"]) for p in json.loads(out)] == [
        ("2026-02", "OPEN"),
        ("2026-01", "CLOSED"),
    ]

    code, out = run(url, "statements", "list", "--period", "2026-01", "--json")
    listed = json.loads(out)
    assert code == 0 and [s["merchantId"] for s in listed] == ["M1", "M2"]

    code, out = run(url, "statements", "show", str(listed[0]["statementId"]), "--json")
    assert code == 0 and len(json.loads(out)["lines"]) == 2

    code, out = run(url, "statements", "totals", "--from", "2026-01", "--to", "2026-01", "--json")
    assert code == 0 and {t["merchantId"] for t in json.loads(out)} == {"M1", "M2"}


def test_closing_the_current_month_by_command_needs_the_flag(url: str) -> None:
    code, out = run(url, "periods", "close", "2999-01")
    assert code == 1 and "has not started" in out


def test_export_writes_a_period_file(url: str, tmp_path: Path) -> None:
    target = tmp_path / "jan.json"
    code, _ = run(
        url,
        "statements",
        "export",
        "--period",
        "2026-01",
        "--format",
        "json",
        "--out",
        str(target),
    )
    assert code == 0
    data = json.loads(target.read_text())
    assert [s["merchantId"] for s in data["statements"]] == ["M1", "M2"]


def test_the_audit_command_exits_non_zero_when_something_is_wrong(url: str) -> None:
    code, out = run(url, "audit", "--json")
    assert code == 0 and json.loads(out)["ok"]

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(update(statements).values(commission_minor=statements.c.commission_minor + 1))
    engine.dispose()

    code, out = run(url, "audit")
    assert code == 1
    assert "statement-total" in out and "VIOLATION" in out
    assert out.splitlines()[-1].startswith("error: the audit found")
