"""``asap-sync operators`` and ``asap-sync activity``, in-process on a fresh data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asap_sync.cli.main import app
from asap_sync.service.operators import hash_password, password_matches


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("ASAP_SYNC_DATA_DIR", "ASAP_SYNC_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    where = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    assert runner.invoke(app, ["init", *where]).exit_code == 0

    def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, [*args, *where], input=stdin, catch_exceptions=False)

    return invoke


def test_operators_are_added_listed_disabled_and_reset_with_every_change_logged(run) -> None:  # type: ignore[no-untyped-def]
    added = run("operators", "add", "ada", "--role", "admin", "--password-stdin", stdin="x" * 12)
    assert added.exit_code == 0, added.output
    assert "Operator ada added with role admin." in added.output
    listed = json.loads(run("operators", "list", "--json").output)
    assert [(o["name"], o["role"], o["status"]) for o in listed] == [("ada", "admin", "active")]
    assert "password" not in json.dumps(listed)
    assert run("operators", "disable", "ada").exit_code == 0
    again = run("operators", "disable", "ada")
    assert again.exit_code == 1 and "already disabled" in again.output
    reset = run("operators", "reset-password", "ada", "--password-stdin", stdin="y" * 12)
    assert reset.exit_code == 0
    log = json.loads(run("activity", "list", "--json").output)
    assert [c["action"] for c in log] == [
        "operator.reset-password",
        "operator.disable",
        "operator.add",
    ]
    assert all(c["source"] == "cli" and c["actor"].startswith("cli:") for c in log)
    assert log[1]["before"] == {"status": "active"} and log[1]["after"] == {"status": "disabled"}


def test_a_weak_password_or_unknown_role_is_refused_in_one_line(run) -> None:  # type: ignore[no-untyped-def]
    short = run("operators", "add", "bob", "--password-stdin", stdin="short")
    assert short.exit_code == 2  # bad input: nothing was done
    assert short.output.strip() == "error: the password must have at least 12 characters"
    role = run("operators", "add", "bob", "--role", "boss", "--password-stdin", stdin="z" * 12)
    assert role.exit_code == 2 and "unknown role 'boss'" in role.output
    assert json.loads(run("operators", "list", "--json").output) == []


def test_a_password_is_stored_as_a_salted_scrypt_hash() -> None:
    stored = hash_password("correct horse battery", salt=b"s" * 16)
    assert stored.startswith("scrypt$16384$8$1$")
    assert "correct" not in stored
    assert password_matches("correct horse battery", stored)
    assert not password_matches("correct horse batterY", stored)
    assert hash_password("correct horse battery", salt=b"t" * 16) != stored
    assert not password_matches("anything", "not-a-hash")


def test_changes_made_with_the_cli_are_in_the_activity_log(run) -> None:  # type: ignore[no-untyped-def]
    assert run("clients", "add", "isv-1").exit_code == 0
    assert run("merchants", "link", "isv-1", "M-1").exit_code == 0
    added = run(
        "contracts",
        "add",
        "--contract-id",
        "C-1",
        "--merchant-id",
        "M-1",
        "--from",
        "2025-01-01",
        "--rule",
        "RENEWAL=rate:150",
    )
    assert added.exit_code == 0, added.output
    assert run("contracts", "end", "C-1", "--at", "2025-06-01").exit_code == 0
    assert run("clients", "disable", "isv-1").exit_code == 0
    assert run("platform-key", "rotate").exit_code == 0
    log = json.loads(run("activity", "list", "--json").output)
    assert [(c["action"], c["subject"]) for c in log] == [
        ("platform-key.rotate", "version 2"),
        ("client.disable", "isv-1"),
        ("contract.end", "C-1"),
        ("contract.add", "C-1"),
        ("merchant.link", "isv-1 -> M-1"),
        ("client.add", "isv-1"),
    ]
    assert log[3]["after"]["rules"] == {"RENEWAL": {"kind": "rate", "value": 150}}
    table = run("activity", "list", "--actor", log[0]["actor"], "--action", "client.add")
    assert "isv-1" in table.output and "platform-key" not in table.output


def test_closing_and_assigning_with_the_cli_is_in_the_activity_log(run) -> None:  # type: ignore[no-untyped-def]
    assert run("periods", "close", "2025-01").exit_code == 0
    assert run("periods", "assign", "2025-01").exit_code == 0
    log = json.loads(run("activity", "list", "--json").output)
    assert [(c["action"], c["subject"], c["after"]["status"]) for c in log] == [
        ("period.assign", "2025-01", "ASSIGNED"),
        ("period.close", "2025-01", "CLOSED"),
    ]
