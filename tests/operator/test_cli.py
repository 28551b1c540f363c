"""The operator commands, in-process: exit status, one-line errors, parseable JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from asap_sync import wire
from asap_sync.bootstrap import engine_for
from asap_sync.config import Settings
from asap_sync.service.ports import Rejection
from asap_sync.storage.directory import SqlKeyUse, SqlRejectionLog
from tests import kit

from .conftest import Cli

PUBLIC = kit.client_key().public_key()


def init_with_client(cli: Cli) -> None:
    assert cli("init").exit_code == 0
    assert cli("clients", "add", "acme", "--name", "Acme").exit_code == 0


def test_init_creates_the_data_dir_and_prints_the_platform_key_in_both_formats(
    cli: Cli, data_dir: Path
) -> None:
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert (data_dir / "asap-sync.sqlite3").exists()
    assert "created" in result.output
    lines = result.output.splitlines()
    one_line = lines[lines.index("one-line base64:") + 1]
    pem = result.output[result.output.index("-----BEGIN PUBLIC KEY-----") :]
    assert wire.public_key_pem(wire.load_public_key(one_line)) == wire.public_key_pem(
        wire.load_public_key(pem)
    )


def test_init_run_twice_keeps_the_same_platform_key(any_cli: Cli) -> None:
    first = any_cli("init")
    second = any_cli("init")
    assert first.exit_code == second.exit_code == 0
    assert "already present" in second.output
    key = any_cli("platform-key", "show", "--json")
    shown = json.loads(key.output)
    assert shown["keyVersion"] == 1 and shown["publicKeyBase64"] in first.output


def test_commands_on_a_missing_data_dir_say_to_run_init(cli: Cli, data_dir: Path) -> None:
    result = cli("clients", "list")
    assert result.exit_code == 1
    assert "run `asap-sync init`" in result.output
    assert f"no database in {data_dir.resolve()} (data directory from --data-dir)" in result.output
    assert "Traceback" not in result.output
    assert not data_dir.exists()


def test_a_key_can_be_added_from_a_pem_file_and_as_bare_base64(
    any_cli: Cli, tmp_path: Path
) -> None:
    init_with_client(any_cli)
    pem_file = tmp_path / "acme.pem"
    pem_file.write_text(wire.public_key_pem(PUBLIC))
    assert any_cli("keys", "add", "acme", "--key-file", str(pem_file)).exit_code == 0
    added = any_cli(
        "keys", "add", "acme", "--key", wire.public_key_base64(PUBLIC), "--version", "7"
    )
    assert added.exit_code == 0 and "Key version 7" in added.output
    keys = json.loads(any_cli("keys", "list", "acme", "--json").output)
    assert [k["keyVersion"] for k in keys] == [1, 7]
    assert {k["publicKeyPem"] for k in keys} == {wire.public_key_pem(PUBLIC)}


def test_bad_key_text_is_a_one_line_usage_error(cli: Cli) -> None:
    init_with_client(cli)
    result = cli("keys", "add", "acme", "--key", "not a key")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: the public key is not usable: not PEM and not valid base64"
    ]


def test_a_retired_key_is_listed_as_retired(any_cli: Cli) -> None:
    init_with_client(any_cli)
    any_cli("keys", "add", "acme", "--key", wire.public_key_base64(PUBLIC))
    assert any_cli("keys", "retire", "acme", "1").exit_code == 0
    [key] = json.loads(any_cli("keys", "list", "--json").output)
    assert key["status"] == "retired" and key["retiredAt"] is not None
    again = any_cli("keys", "retire", "acme", "1")
    assert again.exit_code == 1 and "already retired" in again.output


def test_clients_can_be_disabled_enabled_and_listed_as_json(any_cli: Cli) -> None:
    init_with_client(any_cli)
    any_cli("merchants", "link", "acme", "M1")
    assert any_cli("clients", "disable", "acme").exit_code == 0
    [client] = json.loads(any_cli("clients", "list", "--json").output)
    assert client["status"] == "disabled" and client["merchantIds"] == ["M1"]
    assert any_cli("clients", "enable", "acme").exit_code == 0
    assert "active" in any_cli("clients", "list").output
    unknown = any_cli("clients", "disable", "ghost")
    assert unknown.exit_code == 1 and "unknown client 'ghost'" in unknown.output


def test_merchants_are_linked_listed_and_unlinked(cli: Cli) -> None:
    init_with_client(cli)
    assert cli("merchants", "link", "acme", "M1").exit_code == 0
    links = json.loads(cli("merchants", "list", "--merchant-id", "M1", "--json").output)
    assert [(x["clientId"], x["merchantId"]) for x in links] == [("acme", "M1")]
    assert cli("merchants", "unlink", "acme", "M1").exit_code == 0
    assert json.loads(cli("merchants", "list", "--json").output) == []


ADD = ("contracts", "add", "--merchant-id", "M1")


def test_a_contract_with_rules_is_added_and_listed_as_json(any_cli: Cli) -> None:
    any_cli("init")
    result = any_cli(
        *ADD, "--contract-id", "C1", "--from", "2025-01-01", "--to", "2026-01-01",
        "--rule", "RENEWAL=rate:150", "--rule", "NEW_CONTRACT=fixed:5000",
        "--default-rate", "10", "--goods-window-days", "20", "--threshold", "100000",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [contract] = json.loads(any_cli("contracts", "list", "--json").output)
    assert contract["validFrom"] == "2024-12-31T16:00:00+00:00"  # midnight in Hong Kong
    assert contract["rules"] == {
        "NEW_CONTRACT": {"kind": "fixed", "value": 5000},
        "RENEWAL": {"kind": "rate", "value": 150},
    }
    assert (contract["defaultRateBp"], contract["goodsWindowDays"]) == (10, 20)
    assert contract["amountThresholdMinor"] == 100000
    assert contract["amountThresholdHkd"] == "1000.00"


def test_an_overlapping_contract_is_refused_with_the_contract_it_overlaps(any_cli: Cli) -> None:
    any_cli("init")
    assert (
        any_cli(*ADD, "--contract-id", "C1", "--from", "2025-01-01T00:00:00+08:00").exit_code == 0
    )
    result = any_cli(*ADD, "--contract-id", "C2", "--from", "2030-01-01", "--to", "2031-01-01")
    assert result.exit_code == 1
    assert "overlaps contract C1" in result.output and "open end" in result.output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--rule", "RENEWAL=rate:abc"), "is not CODE=rate"),
        (("--rule", "RENEWAL=rate:10001"), "between 0 and 10000"),
        (("--rule", "GOLD=fixed:1"), "goods code 'GOLD' is unknown"),
        (("--to", "2024-01-01"), "before it starts"),
        (("--to", "2026-01-01T00:00:00"), "has no offset"),
        (("--to", "next year"), "is not a date"),
    ],
)
def test_a_bad_contract_is_a_one_line_usage_error(
    cli: Cli, option: tuple[str, str], message: str
) -> None:
    cli("init")
    result = cli(*ADD, "--contract-id", "C1", "--from", "2025-01-01", *option)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and message in result.output


def test_ending_a_contract_sets_its_end(any_cli: Cli) -> None:
    any_cli("init")
    any_cli(*ADD, "--contract-id", "C1", "--from", "2025-01-01")
    result = any_cli("contracts", "end", "C1", "--at", "2025-07-01")
    assert result.exit_code == 0 and "2025-07-01" in result.output
    [contract] = json.loads(any_cli("contracts", "list", "--json").output)
    assert contract["validTo"] == "2025-06-30T16:00:00+00:00"
    assert any_cli(*ADD, "--contract-id", "C2", "--from", "2025-07-01").exit_code == 0


def test_rotating_the_platform_key_prints_a_new_version_and_retires_the_old(any_cli: Cli) -> None:
    first = json.loads(any_cli("init") and any_cli("platform-key", "show", "--json").output)
    result = any_cli("platform-key", "rotate")
    assert result.exit_code == 0 and "version 2" in result.output
    shown = json.loads(any_cli("platform-key", "show", "--json").output)
    assert shown["keyVersion"] == 2 and shown["publicKeyBase64"] != first["publicKeyBase64"]
    assert shown["publicKeyBase64"] in result.output


def test_empty_listings_say_so_and_json_listings_are_empty_arrays(cli: Cli) -> None:
    cli("init")
    for group in ("transactions", "rejections", "contracts", "clients", "keys", "merchants"):
        assert json.loads(cli(group, "list", "--json").output) == []
    assert "No transactions." in cli("transactions", "list").output
    assert "No rejections." in cli("rejections", "list", "--merchant-id", "M1").output


def test_clients_and_keys_list_show_when_a_key_was_last_used(cli: Cli, data_dir: Path) -> None:
    init_with_client(cli)
    cli("keys", "add", "acme", "--key", wire.public_key_base64(PUBLIC))
    [client] = json.loads(cli("clients", "list", "--json").output)
    assert client["lastUsedAt"] is None
    engine = engine_for(Settings(data_dir=data_dir))
    used = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    SqlKeyUse(engine).record_key_use({("acme", 1): used})
    engine.dispose()
    [client] = json.loads(cli("clients", "list", "--json").output)
    [key] = json.loads(cli("keys", "list", "--json").output)
    assert client["lastUsedAt"] == key["lastUsedAt"] != None  # noqa: E711
    assert datetime.fromisoformat(key["lastUsedAt"]) == used
    table = cli("clients", "list").output
    assert "last used" in table and "2026-01-05" in table
    assert "last used" in cli("keys", "list").output


def test_rejections_list_shows_the_callers_address(cli: Cli, data_dir: Path) -> None:
    init_with_client(cli)
    engine = engine_for(Settings(data_dir=data_dir))
    at = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    SqlRejectionLog(engine).record(
        Rejection(received_at=at, code="INVALID_SIGNATURE", context="x", source="203.0.113.9")
    )
    engine.dispose()
    [found] = json.loads(cli("rejections", "list", "--json").output)
    assert found["source"] == "203.0.113.9"
    assert "203.0.113.9" in cli("rejections", "list").output
