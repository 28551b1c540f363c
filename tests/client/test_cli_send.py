"""`asap-sync merchant keygen` and `send`, run in-process."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from asap_sync import wire
from asap_sync.cli.main import app
from asap_sync.cli.merchant_common import key_text

from .fakes import FakePlatform

runner = CliRunner()

SEED_BODY = {
    "merchantId": "2160120033934460",
    "subMerchantId": "3858195171",
    "outTransId": "2160120033934460_RENEWAL20250909105104279487",
    "transId": "",
    "entityId": "12345678900",
    "entityType": "phone",
    "transType": "transaction",
    "transDate": "2025-04-05T06:30:00Z",
    "transStatus": "SUCCESS",
    "tradeAmt": '{"currency":"HKD","value":"24800"}',
    "extendInfo": '{"goodsInfoList":[{"goodsCode":"RENEWAL","goodsPrice":'
    '{"currency":"HKD","value":"24800"}}]}',
}


def test_keygen_writes_an_owner_only_private_key_and_prints_both_public_forms(
    tmp_path: Path,
) -> None:
    out = tmp_path / "key.pem"
    result = runner.invoke(app, ["merchant-side", "keygen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key = wire.load_private_key(out.read_text())
    assert key.key_size == 2048
    one_line = wire.public_key_base64(key.public_key())
    assert one_line in result.output.splitlines()
    assert wire.public_key_pem(key.public_key()).strip() in result.output


def test_keygen_refuses_to_overwrite_a_key_without_force(tmp_path: Path) -> None:
    out = tmp_path / "key.pem"
    out.write_text("precious")
    result = runner.invoke(app, ["merchant-side", "keygen", "--out", str(out)])
    assert result.exit_code == 2
    assert out.read_text() == "precious"
    forced = runner.invoke(app, ["merchant-side", "keygen", "--out", str(out), "--force"])
    assert forced.exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_send_from_a_seed_shaped_json_file_prints_the_verified_success(
    merchant_env: Path, routed: FakePlatform
) -> None:
    body = merchant_env / "sync.json"
    body.write_text(json.dumps(SEED_BODY))
    result = runner.invoke(app, ["merchant-side", "send", str(body), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["code"] == "SUCCESS"
    assert printed["verified"] is True
    assert printed["requestId"] == SEED_BODY["outTransId"]
    assert routed.accepted == {SEED_BODY["outTransId"]: 1}


def test_send_from_flags_builds_the_sync(merchant_env: Path, routed: FakePlatform) -> None:
    args = ["merchant-side", "send", "--merchant-id", "M1", "--out-trans-id", "T-9"]
    args += ["--trans-date", "2025-04-05T14:30:00+08:00", "--entity-type", "userId"]
    args += ["--amount-hkd", "248.00", "--goods", "RENEWAL:24800:Plan"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    sent = wire.parse_sync_body(routed.received[0].body)
    assert sent.trade_amt is not None and sent.trade_amt.value == "24800"
    assert sent.goods[0].goods_name == "Plan"


def test_a_rejection_exits_1_with_code_context_and_further_action(
    merchant_env: Path, routed: FakePlatform
) -> None:
    routed.script(wire.ResultCode.INVALID_CONTRACT)
    body = merchant_env / "sync.json"
    body.write_text(json.dumps(SEED_BODY))
    result = runner.invoke(app, ["merchant-side", "send", str(body), "--json"])
    assert result.exit_code == 1
    printed = json.loads(result.stdout)
    assert printed["code"] == "INVALID_CONTRACT"
    assert printed["error"]["exitStatus"] == 1
    assert result.stderr == "error: the platform answered INVALID_CONTRACT\n"
    assert printed["furtherAction"] == wire.ResultCode.INVALID_CONTRACT.further_action


def test_an_invalid_sync_exits_2_and_sends_nothing(
    merchant_env: Path, routed: FakePlatform
) -> None:
    body = merchant_env / "sync.json"
    body.write_text(json.dumps({**SEED_BODY, "transDate": "2025-04-05 06:30"}))
    result = runner.invoke(app, ["merchant-side", "send", str(body)])
    assert result.exit_code == 2
    assert "transDate" in result.output
    assert routed.received == []


def test_a_transport_failure_exits_3(merchant_env: Path, routed: FakePlatform) -> None:
    import httpx

    routed.script(*[httpx.ConnectError("down")] * 2)
    body = merchant_env / "sync.json"
    body.write_text(json.dumps(SEED_BODY))
    result = runner.invoke(app, ["merchant-side", "send", str(body), "--max-attempts", "2"])
    assert result.exit_code == 3
    assert "TRANSPORT_ERROR" in result.output


def test_an_unsigned_answer_exits_4(merchant_env: Path, routed: FakePlatform) -> None:
    import httpx

    routed.script(lambda: httpx.Response(200, content=wire.SyncResult.ok().to_bytes()))
    body = merchant_env / "sync.json"
    body.write_text(json.dumps(SEED_BODY))
    result = runner.invoke(app, ["merchant-side", "send", str(body)])
    assert result.exit_code == 4
    assert "RESPONSE_SIGNATURE_INVALID" in result.output


def test_a_one_line_key_that_cannot_be_a_file_name_is_taken_as_the_key() -> None:
    # Over 255 characters without a "/": as a path, "File name too long" (an OSError).
    one_line = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "A" * 300
    assert key_text(one_line) == one_line
