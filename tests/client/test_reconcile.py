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


def test_statement_lines_of_one_transaction_count_once_with_its_transaction_amount(
    tmp_path: Path,
) -> None:
    mine = write(tmp_path / "mine.csv", "outTransId,tradeAmt\nT1,300\nT2,50\n")
    columns = "period,statement_id,merchant_id,out_trans_id,direction,transaction_amount_minor"
    statement = write(
        tmp_path / "statement.csv",
        f"{columns},line_no,base_minor,commission_e4\n"
        "2025-04,7,M1,T1,pay,300,1,100,50000\n"
        "2025-04,7,M1,T1,pay,300,2,200,10000\n"
        "2025-04,7,M1,T2,pay,50,1,50,500\n"
        "2025-04,7,M1,T2,pay,60,2,50,500\n",
    )
    report = reconcile(mine, statement, platform_mapping=STATEMENT)
    assert report.matched == 2
    assert report.duplicates == ["platform:5: T2 pay"]  # lines of one transaction disagree


def test_a_json_period_export_is_read_statement_by_statement_with_their_merchant(
    tmp_path: Path,
) -> None:
    mine = write(tmp_path / "mine.csv", "outTransId,tradeAmt,merchantId\nT1,300,M1\nT2,50,M2\n")
    line = {"direction": "pay", "lineNo": 1, "baseMinor": 1}
    export = {
        "period": "2025-04",
        "statements": [
            {
                "merchantId": "M1",
                "lines": [{**line, "outTransId": "T1", "transactionAmountMinor": 300}],
            },
            {
                "merchantId": "M9",
                "lines": [{**line, "outTransId": "T2", "transactionAmountMinor": 50}],
            },
        ],
    }
    statement = write(tmp_path / "period.json", json.dumps(export))
    report = reconcile(mine, statement, platform_mapping=STATEMENT)
    assert report.matched == 1
    assert [(d.out_trans_id, d.field, d.platform) for d in report.differences] == [
        ("T2", "merchant_id", "M9")
    ]


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
            "merchant-side",
            "reconcile",
            str(merchant_file(tmp_path)),
            str(platform_csv(tmp_path)),
            "--json",
        ],
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["matched"] == 3 and data["error"]["exitStatus"] == 1
    assert data["missingOnPlatform"][0]["outTransId"] == "T5"
    assert data["differences"][0]["platform"] == 301


def test_the_reconcile_command_prints_a_table_and_exits_0_when_clean(tmp_path: Path) -> None:
    mine = write(tmp_path / "mine.csv", "outTransId,tradeAmt\nT1,100\n")
    export = write(tmp_path / "p.csv", "outTransId,amount_minor\nT1,100\n")
    result = runner.invoke(app, ["merchant-side", "reconcile", str(mine), str(export)])
    assert result.exit_code == 0, result.output
    assert "matched" in result.output
