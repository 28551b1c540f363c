"""The merchant side against a real two-worker server: SDK, CLI send, bulk send with resume
after Ctrl-C and kill -9, and reconciliation against the platform's listing and a statement."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from asap_sync import wire
from asap_sync.cli.main import app
from asap_sync.client import (
    AsyncClient,
    Client,
    Goods,
    IdempotencyError,
    InvalidMerchantError,
    OrderNotExistError,
    Transaction,
)
from asap_sync.storage.tables import transactions
from tests.e2e.conftest import REPO, Server
from tests.kit import CLIENT_ID, MERCHANT_ID, client_key, platform_key

runner = CliRunner()
BULK_ROWS = 600  # three chunks: signed by worker processes, not in the calling one


YESTERDAY = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def recent(days: int = 1) -> datetime:
    """Within the platform's six months; the same value for the same ``days`` (resends)."""
    return YESTERDAY - timedelta(days=days - 1)


def payment(out_trans_id: str, amount: int = 24800) -> Transaction:
    return Transaction(
        merchant_id=MERCHANT_ID,
        out_trans_id=out_trans_id,
        trans_date=recent(),
        entity_type="phone",
        entity_id="85212345678",
        amount=amount,
        goods=[Goods(code="RENEWAL", price=amount, name="renewal")],
    )


def client_for(server: Server) -> Client:
    return Client(
        server.base_url,
        client_id=CLIENT_ID,
        private_key=wire.private_key_pem(client_key()),
        platform_public_key=wire.public_key_base64(platform_key().public_key()),
    )


def stored(server: Server) -> dict[tuple[str, str], int]:
    """(outTransId, direction) → how many rows the platform holds for it."""
    query = select(transactions.c.out_trans_id, transactions.c.direction, func.count()).group_by(
        transactions.c.out_trans_id, transactions.c.direction
    )
    with server.engine.connect() as conn:
        return {(t, d): n for t, d, n in conn.execute(query)}


def test_the_sdk_syncs_pays_and_refunds_and_raises_each_rejection_with_its_context(
    server: Server,
) -> None:
    with client_for(server) as client:
        paid = client.sync(payment("E2E-PAY-1"))
        assert (paid.code, paid.request_id, paid.attempts) == ("SUCCESS", "E2E-PAY-1", 1)
        assert json.loads(paid.body) == {"success": True, "invokeResult": "SUCCESS"}
        refund = Transaction(
            merchant_id=MERCHANT_ID,
            out_trans_id="E2E-REFUND-1",
            direction="refund",
            origin_trans_id="E2E-PAY-1",
            trans_date=recent(),
            entity_type="phone",
            amount=Decimal("100.00"),
        )
        assert client.sync(refund).code == "SUCCESS"
        assert client.sync(payment("E2E-PAY-1")).code == "SUCCESS"  # a replay, counted once

        with pytest.raises(InvalidMerchantError) as unknown:
            client.sync(Transaction(**{**_fields(payment("E2E-X")), "merchant_id": "nobody"}))
        assert unknown.value.code == "INVALID_MERCHANT" and unknown.value.attempts == 1
        assert unknown.value.request_id == "E2E-X"
        with pytest.raises(OrderNotExistError) as orphan:
            client.sync(
                Transaction(**{**_fields(refund), "out_trans_id": "E2E-R2", "origin_trans_id": "?"})
            )
        assert orphan.value.code == "ORDER_NOT_EXIST"
        with pytest.raises(IdempotencyError) as edited:
            client.sync(payment("E2E-PAY-1", amount=100))
        assert edited.value.context and edited.value.code == "IDEMPOTENCY_EXCEPTION"

    async def async_sync() -> str:
        async with AsyncClient(
            server.base_url,
            client_id=CLIENT_ID,
            private_key=client_key(),
            platform_public_key=platform_key().public_key(),
        ) as async_client:
            answers = await asyncio.gather(
                *(async_client.sync(payment(f"E2E-ASYNC-{n}")) for n in range(5))
            )
            return ",".join(a.code for a in answers)

    assert asyncio.run(async_sync()) == ",".join(["SUCCESS"] * 5)
    expected = {("E2E-PAY-1", "pay"): 1, ("E2E-REFUND-1", "refund"): 1}
    expected |= {(f"E2E-ASYNC-{n}", "pay"): 1 for n in range(5)}
    assert stored(server) == expected


def _fields(transaction: Transaction) -> dict[str, object]:
    return {name: getattr(transaction, name) for name in Transaction.__dataclass_fields__}


@pytest.fixture
def merchant_files(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Key files and the ASAP_SYNC_* variables of the merchant commands, for this server."""
    private = tmp_path / "merchant-private.pem"
    private.write_text(wire.private_key_pem(client_key()))
    public = tmp_path / "platform-public.pem"
    public.write_text(wire.public_key_pem(platform_key().public_key()))
    variables = {
        "ASAP_SYNC_BASE_URL": server.base_url,
        "ASAP_SYNC_CLIENT_ID": CLIENT_ID,
        "ASAP_SYNC_PRIVATE_KEY": str(private),
        "ASAP_SYNC_PLATFORM_PUBLIC_KEY": str(public),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def bulk_row(n: int) -> dict[str, object]:
    row: dict[str, object] = {
        "merchantId": MERCHANT_ID,
        "outTransId": f"BULK-{n:05d}",
        "transDate": recent(n % 20 + 1).isoformat(timespec="seconds"),
        "entityType": "userId",
        "entityId": f"u{n}",
        "tradeAmt": 1000 + n,
        "goods": [{"goodsCode": "RENEWAL", "goodsPrice": 1000 + n}],
    }
    if n % 50 == 0:  # a refund of the payment sent before the bulk: no race with its origin
        row.update(transDirection="refund", originTransId="CLI-1", tradeAmt=10, goods=None)
    return row


def bulk_command(source: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from asap_sync.cli.main import main; main()",
        "merchant-side",
        "bulk-send",
        str(source),
        "--concurrency",
        "4",
        "--no-progress",
    ]


def interrupt_after(
    source: Path, results: Path, at_least: int, how: signal.Signals
) -> tuple[int, list[int]]:
    """Start a bulk send, deliver ``how`` once ``at_least`` results are recorded."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        bulk_command(source), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and process.poll() is None:
        workers = workers or _children(process.pid)
        if results.exists() and len(results.read_text().splitlines()) >= at_least:
            break
        time.sleep(0.05)
    process.send_signal(how)
    output, _ = process.communicate(timeout=60)
    assert process.returncode is not None, output
    return process.returncode, workers


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _gone(pids: list[int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]:
            return True
        time.sleep(0.1)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_the_merchant_commands_send_bulk_send_resume_and_reconcile_against_the_server(
    server: Server, merchant_files: Path
) -> None:
    when = ["--trans-date", recent().isoformat(timespec="seconds"), "--entity-type", "phone"]
    send = ["merchant-side", "send", "--json", *when]
    pay = ["--amount-hkd", "248.00", "--goods", "RENEWAL:24800:renewal"]
    one = runner.invoke(app, [*send, "--merchant-id", MERCHANT_ID, "--out-trans-id", "CLI-1", *pay])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["verified"] is True
    rejected = runner.invoke(
        app, [*send, "--merchant-id", "nobody", "--out-trans-id", "CLI-2", "--amount", "100"]
    )
    assert rejected.exit_code == 1
    assert json.loads(rejected.stdout)["code"] == "INVALID_MERCHANT"

    source = merchant_files / "history.jsonl"
    lines = [json.dumps(bulk_row(n)) for n in range(1, BULK_ROWS + 1)]
    source.write_text("\n".join(lines) + "\n")
    results = merchant_files / "history.jsonl.results.jsonl"
    status, _ = interrupt_after(source, results, 60, signal.SIGINT)
    assert status == 130  # Ctrl-C: in-flight sends recorded, the rest left for the resume
    first = len(results.read_text().splitlines())
    status, workers = interrupt_after(source, results, first + 60, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert workers and _gone(workers), "signing workers outlived a killed bulk send"
    assert len(stored(server)) < BULK_ROWS + 1

    resumed = runner.invoke(app, ["merchant-side", "bulk-send", str(source), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    assert "ALREADY_SUCCEEDED" in resumed.output
    final = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(r["line"] for r in final) == list(range(1, BULK_ROWS + 1))
    assert {r["code"] for r in final} == {"SUCCESS"}
    counts = stored(server)
    assert set(counts.values()) == {1}  # each transaction exactly once
    assert len(counts) == BULK_ROWS + 1  # the bulk rows and CLI-1

    listing = merchant_files / "platform.json"
    limit = ["--limit", str(BULK_ROWS + 10)]
    listed = runner.invoke(
        app, ["transactions", "list", "--database-url", server.database_url, *limit, "--json"]
    )
    assert listed.exit_code == 0, listed.output
    listing.write_text(listed.stdout)
    report = runner.invoke(app, ["merchant-side", "reconcile", str(source), str(listing), "--json"])
    assert report.exit_code == 1  # CLI-1 is on the platform only
    found = json.loads(report.stdout)
    assert found["matched"] == BULK_ROWS
    assert [e["outTransId"] for e in found["missingInMerchantFile"]] == ["CLI-1"]
    assert not found["differences"] and not found["missingOnPlatform"]

    _reconcile_with_a_real_statement(server, source, merchant_files)


def _reconcile_with_a_real_statement(server: Server, source: Path, where: Path) -> None:
    period = _current_period()
    db = ["--database-url", server.database_url]
    closed = runner.invoke(app, ["periods", "close", period, "--allow-open-month", *db])
    assert closed.exit_code == 0, closed.output
    for fmt in ("csv", "json"):
        export = where / f"statement.{fmt}"
        options = ["--period", period, "--format", fmt, "--out", str(export), *db]
        exported = runner.invoke(app, ["statements", "export", *options])
        assert exported.exit_code == 0, exported.output
        files = [str(source), str(export)]
        report = runner.invoke(
            app, ["merchant-side", "reconcile", *files, "--platform-format", "statement", "--json"]
        )
        found = json.loads(report.stdout)
        assert found["matched"] == BULK_ROWS, (fmt, found)
        assert not found["differences"] and not found["duplicates"], found
        assert [e["outTransId"] for e in found["missingInMerchantFile"]] == ["CLI-1"]


def _current_period() -> str:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(os.environ.get("ASAP_SYNC_TIMEZONE", "Asia/Hong_Kong"))
    return datetime.now(zone).strftime("%Y-%m")
