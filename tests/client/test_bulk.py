"""Bulk sending: input formats, bad rows, results file, resume without double counting."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from asap_sync import wire
from asap_sync.cli.main import app
from asap_sync.client import (
    ALREADY_SUCCEEDED,
    INVALID_ROW,
    Client,
    Outcome,
    ResultsFile,
    Row,
    bulk_send,
    count_rows,
    read_rows,
    row_from_mapping,
)

from .fakes import FakeClock, FakePlatform

runner = CliRunner()


def row(n: int, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "merchantId": "M1",
        "outTransId": f"T-{n:04d}",
        "transDate": "2025-04-05T06:30:00Z",
        "entityType": "userId",
        "entityId": f"u{n}",
        "tradeAmt": 1000 + n,
    }
    base.update(extra)
    return base


def write_jsonl(path: Path, rows: list[dict[str, object] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def results_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_rows_default_request_id_to_out_trans_id_and_take_minor_units(
    tmp_path: Path,
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [row(1), row(2, requestId="R-2")])
    first, second = read_rows(path)
    assert first.request is not None and first.request.request_id == "T-0001"
    assert first.request.trade_amt is not None and first.request.trade_amt.value == "1001"
    assert second.request_id == "R-2"


def test_csv_rows_take_goods_as_repeated_columns_or_a_json_cell(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    columns = ["merchantId", "outTransId", "transDate", "entityType", "tradeAmtHkd"]
    columns += ["goods1_code", "goods1_price_hkd", "goods2_code", "goods2_price", "goods"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerow(
            [
                "M1",
                "T-1",
                "2025-04-05T06:30:00Z",
                "userId",
                "248.00",
                "RENEWAL",
                "148.00",
                "NEW_CONTRACT",
                "10000",
                "",
            ]
        )
        goods = json.dumps([{"goodsCode": "RENEWAL", "goodsPrice": "500", "goodsName": "x"}])
        writer.writerow(["M1", "T-2", "2025-04-05T06:30:00Z", "userId", "5", "", "", "", "", goods])
    first, second = read_rows(path)
    assert first.request is not None and second.request is not None
    assert first.line == 2 and second.line == 3
    assert first.request.trade_amt is not None and first.request.trade_amt.value == "24800"
    assert [g.goods_price.value for g in first.request.goods] == ["14800", "10000"]
    assert second.request.goods[0].goods_name == "x"
    assert count_rows(path) == 2


def test_bad_rows_are_reported_with_their_line_number_and_do_not_stop_reading(
    tmp_path: Path,
) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [row(1), "{not json", row(3, tradeAmt=1.5), row(4, entityType="fax"), row(5)],
    )
    rows = list(read_rows(path))
    assert [r.line for r in rows if r.request is None] == [2, 3, 4]
    assert "whole number" in (rows[2].error or "")
    assert "entityType" in (rows[3].error or "")
    assert rows[4].request is not None


def test_the_results_file_has_one_line_per_input_with_code_and_context(
    tmp_path: Path, client: Client, platform: FakePlatform
) -> None:
    platform.decide = lambda r: (
        wire.ResultCode.INVALID_CONTRACT if r.out_trans_id == "T-0003" else None
    )
    path = write_jsonl(tmp_path / "in.jsonl", [row(1), "[]", row(3)])
    report = bulk_send(client, read_rows(path), results=ResultsFile(tmp_path / "out.jsonl"))
    lines = sorted(results_of(tmp_path / "out.jsonl"), key=lambda r: int(str(r["line"])))
    assert [(r["line"], r["code"]) for r in lines] == [
        (1, "SUCCESS"),
        (2, INVALID_ROW),
        (3, "INVALID_CONTRACT"),
    ]
    assert lines[0]["requestId"] == "T-0001" and lines[0]["outTransId"] == "T-0001"
    assert lines[2]["context"] == wire.ResultCode.INVALID_CONTRACT.message
    assert report.counts == {"SUCCESS": 1, INVALID_ROW: 1, "INVALID_CONTRACT": 1}


def test_a_torn_last_line_from_a_crash_is_ignored_on_resume(tmp_path: Path) -> None:
    results = tmp_path / "out.jsonl"
    good = Outcome(line=1, request_id="T-1", out_trans_id="T-1", code="SUCCESS").to_json()
    failed = Outcome(line=2, request_id="T-2", out_trans_id="T-2", code="SYSTEM_ERROR")
    results.write_text(good + "\n" + failed.to_json() + "\n" + '{"line": 3, "requestId": "T')
    index = ResultsFile(results).open()
    assert index.succeeded(1, "T-1")
    assert not index.succeeded(2, "T-2")
    assert not index.succeeded(1, "another-id")
    assert results.read_text() == good + "\n"


def test_an_interrupted_bulk_send_resumes_and_each_request_id_succeeds_exactly_once(
    merchant_env: Path, routed: FakePlatform
) -> None:
    rows: list[dict[str, object] | str] = [row(n) for n in range(1, 41)]
    rows[6] = "not json"
    source = write_jsonl(merchant_env / "year.jsonl", rows)
    real = routed.handle
    calls = {"n": 0}

    def ctrl_c_at_the_fifteenth(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 15:
            raise KeyboardInterrupt
        return real(request)

    routed.handle = ctrl_c_at_the_fifteenth  # type: ignore[method-assign]
    args = ["merchant-side", "bulk-send", str(source), "--concurrency", "4", "--no-progress"]
    first = runner.invoke(app, args)
    assert first.exit_code == 130, first.output
    results = merchant_env / "year.jsonl.results.jsonl"
    done_first = {r["requestId"] for r in results_of(results) if r["code"] == "SUCCESS"}
    assert 10 <= len(done_first) < 39

    routed.handle = real  # type: ignore[method-assign]
    sent_before = len(routed.received)
    second = runner.invoke(app, args)
    assert second.exit_code == 1, second.output  # the bad row remains
    assert "line 7" in second.output
    assert ALREADY_SUCCEEDED in second.output
    resent = [r.request_id for r in routed.received[sent_before:]]
    assert not set(resent) & done_first
    assert set(routed.accepted) == {f"T-{n:04d}" for n in range(1, 41) if n != 7}
    assert set(routed.accepted.values()) == {1}
    final = results_of(results)
    assert sorted(int(str(r["line"])) for r in final) == list(range(1, 41))


def test_a_complete_rerun_sends_nothing_and_exits_0(
    merchant_env: Path, routed: FakePlatform
) -> None:
    source = write_jsonl(merchant_env / "in.jsonl", [row(n) for n in range(1, 6)])
    args = ["merchant-side", "bulk-send", str(source), "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    sent = len(routed.received)
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert len(routed.received) == sent
    assert "ALREADY_SUCCEEDED" in again.output


def test_transport_failures_are_recorded_and_resent_on_the_next_run(
    merchant_env: Path, routed: FakePlatform
) -> None:
    source = write_jsonl(merchant_env / "in.jsonl", [row(1), row(2)])
    routed.script(*[httpx.ConnectError("down")] * 2)
    args = ["merchant-side", "bulk-send", str(source), "--no-progress", "--concurrency", "1"]
    first = runner.invoke(app, [*args, "--max-attempts", "2"])
    assert first.exit_code == 3
    assert runner.invoke(app, args).exit_code == 0
    assert set(routed.accepted.values()) == {1} and len(routed.accepted) == 2


def test_a_file_of_several_chunks_is_signed_by_worker_processes_with_the_same_outcomes(
    tmp_path: Path, client: Client, platform: FakePlatform
) -> None:
    rows: list[dict[str, object] | str] = [row(n) for n in range(1, 701)]
    rows[99] = "not json"
    rows[399] = row(400, entityType="fax")
    platform.decide = lambda r: (
        wire.ResultCode.INVALID_CONTRACT if r.out_trans_id == "T-0600" else None
    )
    source = write_jsonl(tmp_path / "big.jsonl", rows)
    results = ResultsFile(tmp_path / "out.jsonl")
    report = bulk_send(client, read_rows(source), results=results, concurrency=4)
    assert report.counts == {"SUCCESS": 697, INVALID_ROW: 2, "INVALID_CONTRACT": 1}
    assert len(platform.accepted) == 697 and set(platform.accepted.values()) == {1}
    lines = results_of(tmp_path / "out.jsonl")
    assert sorted(int(str(r["line"])) for r in lines) == list(range(1, 701))
    assert {r["code"] for r in lines if r["line"] in (100, 400)} == {INVALID_ROW}

    sent = len(platform.received)
    again = bulk_send(client, read_rows(source), results=results, concurrency=4)
    assert again.counts == {ALREADY_SUCCEEDED: 697, INVALID_ROW: 2, "INVALID_CONTRACT": 1}
    assert len(platform.received) == sent + 1  # only the rejected row is sent again


def test_a_request_signed_ahead_is_re_signed_when_it_waited_too_long(
    client: Client, platform: FakePlatform, clock: FakeClock
) -> None:
    from datetime import timedelta

    from asap_sync.client._protocol import Outbound

    request = read_rows_of([row(1)])[0]
    assert request.request is not None
    body = wire.dump_sync_body(request.request)
    stale = clock() - timedelta(minutes=10)
    headers = client.credentials.signed_headers(body, wire.format_response_time(stale))
    outbound = Outbound(
        request_id="T-0001", out_trans_id="T-0001", body=body, headers=headers, signed_at=stale
    )
    client._deliver(outbound)
    assert platform.received[-1].request_time == wire.format_response_time(clock())
    fresh = Outbound(
        request_id="T-0001", out_trans_id="T-0001", body=body, headers=headers, signed_at=clock()
    )
    client._deliver(fresh)
    assert platform.received[-1].request_time == headers["Request-Time"]


def read_rows_of(records: list[dict[str, object]]) -> list[Row]:
    return [row_from_mapping(n, r) for n, r in enumerate(records, start=1)]
