"""Reconciliation of the merchant's file against the platform's export."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from asap_sync.cli.main import app
from asap_sync.client import STATEMENT, reconcile

runner = CliRunner()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def merchant_file(tmp_path: Path) -> Path:
    rows = [
        {"merchantId": "M1", "outTransId": "T1", "tradeAmt": {"currency": "HKD", "value": "100"}},
        {"outTransId": "T2", "tradeAmtHkd": "2.50"},
        {"outTransId": "T3", "tradeAmt": "300"},
        {"outTransId": "R1", "transDirection": "refund", "tradeAmt": 50},
        {"outTransId": "T5", "tradeAmt": '{"currency":"HKD","value":"500"}'},
    ]
    return write(tmp_path / "mine.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")


def platform_csv(tmp_path: Path) -> Path:
    return write(
        tmp_path / "platform.csv",
        "outTransId,direction,amount_minor,status\n"
        "T1,pay,100,PENDING\n"
        "T2,pay,250,PENDING\n"
        "T3,pay,301,ASSIGNED\n"
        "R1,refund,50,PENDING\n"
        "T9,pay,900,PENDING\n",
    )


def test_matched_missing_on_each_side_and_amount_differences_are_listed(
    tmp_path: Path,
) -> None:
    report = reconcile(merchant_file(tmp_path), platform_csv(tmp_path))
    assert report.matched == 3
    assert [e.out_trans_id for e in report.missing_on_platform] == ["T5"]
    assert [e.out_trans_id for e in report.missing_in_merchant_file] == ["T9"]
    (diff,) = report.differences
    assert (diff.out_trans_id, diff.field, diff.merchant, diff.platform) == (
        "T3",
        "amount_minor",
        300,
        301,
    )
    assert not report.clean


def test_a_json_export_and_a_matching_file_reconcile_cleanly(tmp_path: Path) -> None:
    mine = write(tmp_path / "mine.csv", "outTransId,tradeAmt\nT1,100\n")
    export = write(
        tmp_path / "p.json",
        json.dumps(
            {
                "transactions": [
                    {
                        "outTransId": "T1",
                        "direction": "pay",
                        "amount_minor": 100,
                        "status": "PENDING",
                    }
                ]
            }
        ),
    )
    report = reconcile(mine, export)
    assert report.clean and report.matched == 1


def test_statement_lines_of_one_transaction_are_summed_by_the_statement_mapping(
    tmp_path: Path,
) -> None:
    mine = write(tmp_path / "mine.csv", "outTransId,tradeAmt\nT1,300\n")
    statement = write(
        tmp_path / "statement.csv",
        "statement_id,merchant_id,period,out_trans_id,direction,base_amount_minor,commission_e4\n"
        "S1,M1,2025-04,T1,pay,100,50000\n"
        "S1,M1,2025-04,T1,pay,200,10000\n",
    )
    report = reconcile(mine, statement, platform_mapping=STATEMENT)
    assert report.clean, report.to_dict()


def test_unreadable_lines_and_duplicates_are_reported_not_fatal(tmp_path: Path) -> None:
    mine = write(
        tmp_path / "mine.jsonl",
        '{"outTransId":"T1","tradeAmt":1}\n{oops\n'
        '{"outTransId":"T1","tradeAmt":1}\n{"tradeAmt":1}\n',
    )
    export = write(tmp_path / "p.csv", "outTransId,amount_minor\nT1,1\nT1,1\n")
    report = reconcile(mine, export)
    assert report.matched == 1
    assert len(report.unreadable) == 2 and report.unreadable[0].startswith("merchant:2:")
    assert len(report.duplicates) == 2


def test_the_reconcile_command_prints_json_and_exits_1_on_differences(
    tmp_path: Path,
) -> None:
    result = runner.invoke(
        app,
        [
            "merchant",
            "reconcile",
            str(merchant_file(tmp_path)),
            str(platform_csv(tmp_path)),
            "--json",
        ],
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["matched"] == 3
    assert data["missingOnPlatform"][0]["out_trans_id"] == "T5"
    assert data["differences"][0]["platform"] == 301


def test_the_reconcile_command_prints_a_table_and_exits_0_when_clean(tmp_path: Path) -> None:
    mine = write(tmp_path / "mine.csv", "outTransId,tradeAmt\nT1,100\n")
    export = write(tmp_path / "p.csv", "outTransId,amount_minor\nT1,100\n")
    result = runner.invoke(app, ["merchant", "reconcile", str(mine), str(export)])
    assert result.exit_code == 0, result.output
    assert "matched" in result.output
