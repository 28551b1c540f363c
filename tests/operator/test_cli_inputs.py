"""Inputs checked before any work, where the data is, and output for people (docs/cli.md)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asap_sync import wire
from asap_sync.cli import location
from asap_sync.cli.main import app

from .conftest import Cli

runner = CliRunner()
KEY_FILE_ARGS = ["--client-id", "c", "--max-attempts", "1"]


def merchant_args(tmp_path: Path, platform_key: str) -> list[str]:
    private = tmp_path / "merchant-private.pem"
    if not private.exists():
        private.write_text(wire.private_key_pem(wire.generate_private_key()))
    return [*KEY_FILE_ARGS, "--private-key", str(private), "--platform-public-key", platform_key]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:8080", "needs a scheme and a host"),
        ("http://127.0.0.1:8080/amsin", "has a path: give the server's base URL only"),
    ],
)
def test_a_bad_base_url_is_a_usage_error_and_never_retried(
    tmp_path: Path, url: str, message: str
) -> None:
    platform = wire.public_key_base64(wire.generate_private_key().public_key())
    args = ["merchant-side", "send", "--base-url", url, *merchant_args(tmp_path, platform)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.stderr
    assert "TRANSPORT" not in result.output


def test_a_mistyped_platform_key_path_is_named_as_a_missing_file(tmp_path: Path) -> None:
    args = ["merchant-side", "send", "--base-url", "http://127.0.0.1:1"]
    args += merchant_args(tmp_path, "platform-pubilc.pem")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--platform-public-key 'platform-pubilc.pem': no such file" in result.stderr


def test_a_postgres_url_without_its_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(location.importlib.util, "find_spec", lambda name: None)
    result = runner.invoke(app, ["clients", "list", "--database-url", "postgres://u@h/db"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: PostgreSQL needs the psycopg driver, which is not installed: "
        "pip install 'asap-sync[postgres]'\n"
    )


def test_postgres_scheme_is_read_as_postgresql() -> None:
    assert location.checked_database_url("postgres://u@h/db") == "postgresql://u@h/db"


def test_reading_commands_outside_the_data_directory_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in (["statements", "list"], ["periods", "list"], ["audit"], ["clients", "list"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        assert f"no database in {tmp_path / 'asap-data'}" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_data_directory_comes_from_asap_sync_toml_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "asap-sync.toml").write_text('data_dir = "books"\n')
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert (tmp_path / "books" / "asap-sync.sqlite3").is_file()
    assert runner.invoke(app, ["clients", "list", "--json"]).stdout.strip() == "[]"
    (tmp_path / "asap-sync.toml").write_text('data_dri = "books"\n')
    result = runner.invoke(app, ["clients", "list"])
    assert result.exit_code == 2 and "unknown setting 'data_dri'" in result.stderr


def test_settings_in_the_data_directory_apply_below_variables(
    cli: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("init")
    (data_dir / "asap-sync.toml").write_text('timezone = "Mars/Olympus"\n')
    assert "unknown time zone 'Mars/Olympus'" in cli("clients", "list").stderr
    monkeypatch.setenv("ASAP_SYNC_TIMEZONE", "UTC")
    assert cli("clients", "list").exit_code == 0


def test_reconcile_recognises_a_statement_export_by_its_columns(tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text("outTransId,direction,amount_minor\nP1,pay,10000\n")
    export = tmp_path / "statement.csv"
    export.write_text(
        "period,statement_id,out_trans_id,direction,transaction_amount_minor,line_id\n"
        "2026-01,1,P1,pay,10000,1\n2026-01,1,P1,pay,10000,2\n"
    )
    result = runner.invoke(app, ["merchant-side", "reconcile", str(mine), str(export), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matched"] == 1


def test_keygen_warns_when_it_writes_a_private_key_git_would_commit(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = runner.invoke(app, ["merchant-side", "keygen", "--out", str(tmp_path / "k.pem")])
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: ") and "git work tree" in result.stderr
    (tmp_path / ".gitignore").write_text("*.pem\n")
    ignored = runner.invoke(app, ["merchant-side", "keygen", "--out", str(tmp_path / "j.pem")])
    assert ignored.exit_code == 0 and ignored.stderr == ""


def test_tables_written_to_a_file_keep_whole_ids_and_times_with_offsets(cli: Cli) -> None:
    cli("init")
    long_id = "211020000000000000044-" + "x" * 40
    assert (
        cli("clients", "add", long_id, "--name", "A rather long name for a client").exit_code == 0
    )
    listed = cli("clients", "list").stdout
    assert long_id in listed
    assert "+08:00" in listed and "(times in Asia/Hong_Kong)" in listed


def test_the_run_script_prints_a_clean_usage() -> None:
    repo = Path(__file__).resolve().parents[2]
    run = subprocess.run([str(repo / "run")], capture_output=True, text=True, check=False)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("usage: ./run COMMAND")
    assert "set -euo" not in run.stderr


def test_serve_on_a_port_in_use_says_so_before_doing_anything(cli: Cli, data_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.exit_code == 1 and "Serving on" not in result.output
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--port or ASAP_SYNC_PORT" in result.stderr
    assert not data_dir.exists()


def test_serve_help_creates_nothing(cli: Cli, data_dir: Path) -> None:
    assert cli("serve", "--help").exit_code == 0
    assert not data_dir.exists()


def test_the_merchant_connection_can_come_from_asap_sync_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "asap-sync.toml").write_text(
        'base_url = "127.0.0.1:8080"\nclient_id = "c"\nprivate_key = "nowhere.pem"\n'
        'platform_public_key = "platform-public.pem"\n'
    )
    result = runner.invoke(app, ["merchant-side", "send", "--merchant-id", "M1"])
    assert result.exit_code == 2 and "--base-url '127.0.0.1:8080' needs a scheme" in result.stderr
    monkeypatch.setenv("ASAP_SYNC_BASE_URL", "http://127.0.0.1:1")  # a variable wins
    result = runner.invoke(app, ["merchant-side", "send", "--merchant-id", "M1"])
    assert result.exit_code == 2 and f"{tmp_path / 'nowhere.pem'}" in result.stderr
