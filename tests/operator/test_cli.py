"""The operator commands, in-process: exit status, one-line errors, parseable JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from asap_sync import wire
from asap_sync.cli.main import app
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
    [shown] = json.loads(key.output)
    assert shown["key_version"] == 1 and shown["public_key_b64"] in first.output


def test_commands_on_a_missing_data_dir_say_to_run_init(cli: Cli, data_dir: Path) -> None:
    result = cli("clients", "list")
    assert result.exit_code == 1
    assert "run `asap-sync init`" in result.output
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
    assert [k["key_version"] for k in keys] == [1, 7]
    assert {k["public_key_pem"] for k in keys} == {wire.public_key_pem(PUBLIC)}


def test_bad_key_text_is_a_one_line_error(cli: Cli) -> None:
    init_with_client(cli)
    result = cli("keys", "add", "acme", "--key", "not a key")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: the key for client 'acme' is not usable: not PEM and not valid base64"
    ]


def test_a_retired_key_is_listed_as_retired(any_cli: Cli) -> None:
    init_with_client(any_cli)
    any_cli("keys", "add", "acme", "--key", wire.public_key_base64(PUBLIC))
    assert any_cli("keys", "retire", "acme", "1").exit_code == 0
    [key] = json.loads(any_cli("keys", "list", "--json").output)
    assert key["status"] == "retired" and key["retired_at"] is not None
    again = any_cli("keys", "retire", "acme", "1")
    assert again.exit_code == 1 and "already retired" in again.output


def test_clients_can_be_disabled_enabled_and_listed_as_json(any_cli: Cli) -> None:
    init_with_client(any_cli)
    any_cli("merchants", "link", "acme", "M1")
    assert any_cli("clients", "disable", "acme").exit_code == 0
    [client] = json.loads(any_cli("clients", "list", "--json").output)
    assert client["status"] == "disabled" and client["merchant_ids"] == ["M1"]
    assert any_cli("clients", "enable", "acme").exit_code == 0
    assert "active" in any_cli("clients", "list").output
    unknown = any_cli("clients", "disable", "ghost")
    assert unknown.exit_code == 1 and "unknown client 'ghost'" in unknown.output


def test_merchants_are_linked_listed_and_unlinked(cli: Cli) -> None:
    init_with_client(cli)
    assert cli("merchants", "link", "acme", "M1").exit_code == 0
    links = json.loads(cli("merchants", "list", "--merchant", "M1", "--json").output)
    assert [(x["client_id"], x["merchant_id"]) for x in links] == [("acme", "M1")]
    assert cli("merchants", "unlink", "acme", "M1").exit_code == 0
    assert json.loads(cli("merchants", "list", "--json").output) == []


ADD = ("contracts", "add", "--merchant", "M1")


def test_a_contract_with_rules_is_added_and_listed_as_json(any_cli: Cli) -> None:
    any_cli("init")
    result = any_cli(
        *ADD, "--id", "C1", "--from", "2025-01-01", "--to", "2026-01-01",
        "--rule", "RENEWAL=rate:150", "--rule", "NEW_CONTRACT=fixed:5000",
        "--default-rate", "10", "--goods-window-days", "20", "--threshold", "100000",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [contract] = json.loads(any_cli("contracts", "list", "--json").output)
    assert contract["valid_from"] == "2024-12-31T16:00:00+00:00"  # midnight in Hong Kong
    assert contract["rules"] == {
        "NEW_CONTRACT": {"kind": "fixed", "value": 5000},
        "RENEWAL": {"kind": "rate", "value": 150},
    }
    assert (contract["default_rate_bp"], contract["goods_window_days"]) == (10, 20)
    assert contract["amount_threshold_minor"] == 100000


def test_an_overlapping_contract_is_refused_with_the_contract_it_overlaps(any_cli: Cli) -> None:
    any_cli("init")
    assert any_cli(*ADD, "--id", "C1", "--from", "2025-01-01T00:00:00+08:00").exit_code == 0
    result = any_cli(*ADD, "--id", "C2", "--from", "2030-01-01", "--to", "2031-01-01")
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
def test_a_bad_contract_is_a_one_line_error(
    cli: Cli, option: tuple[str, str], message: str
) -> None:
    cli("init")
    result = cli(*ADD, "--id", "C1", "--from", "2025-01-01", *option)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and message in result.output


def test_ending_a_contract_sets_its_end(any_cli: Cli) -> None:
    any_cli("init")
    any_cli(*ADD, "--id", "C1", "--from", "2025-01-01")
    result = any_cli("contracts", "end", "C1", "--at", "2025-07-01")
    assert result.exit_code == 0 and "2025-07-01" in result.output
    [contract] = json.loads(any_cli("contracts", "list", "--json").output)
    assert contract["valid_to"] == "2025-06-30T16:00:00+00:00"
    assert any_cli(*ADD, "--id", "C2", "--from", "2025-07-01").exit_code == 0


def test_rotating_the_platform_key_prints_a_new_version_and_retires_the_old(any_cli: Cli) -> None:
    first = json.loads(any_cli("init") and any_cli("platform-key", "show", "--json").output)[0]
    result = any_cli("platform-key", "rotate")
    assert result.exit_code == 0 and "version 2" in result.output
    [shown] = json.loads(any_cli("platform-key", "show", "--json").output)
    assert shown["key_version"] == 2 and shown["public_key_b64"] != first["public_key_b64"]
    assert shown["public_key_b64"] in result.output


def test_empty_listings_say_so_and_json_listings_are_empty_arrays(cli: Cli) -> None:
    cli("init")
    for group in ("transactions", "rejections", "contracts", "clients", "keys", "merchants"):
        assert json.loads(cli(group, "list", "--json").output) == []
    assert "No transactions." in cli("transactions", "list").output
    assert "No rejections." in cli("rejections", "list", "--merchant", "M1").output


def command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    # typer ships its own click, so groups are recognised by their sub-commands
    for name, sub in getattr(command, "commands", {}).items():
        paths.extend(command_paths(sub, (*path, name)))
    return paths


OPERATOR_GROUPS = {"init", "migrate", "serve", "clients", "keys", "merchants", "contracts",
                   "platform-key", "rejections", "transactions"}  # fmt: skip


def test_every_operator_command_has_help() -> None:
    root = typer.main.get_command(app)
    paths = [p for p in command_paths(root) if not p or p[0] in OPERATOR_GROUPS]
    assert len(paths) >= 25
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, path
