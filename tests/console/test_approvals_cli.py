"""Two-person approval from the CLI (``--as NAME``), and across the CLI and the console."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from asap_sync.bootstrap import build_admin_app
from asap_sync.cli.main import app
from asap_sync.config import Settings
from asap_sync.storage.engine import make_engine
from tests.console.conftest import PASSWORD, Site, csrf_of, seed
from tests.settlement.kit import T0, Ledger

Run = Callable[..., Result]
CONTRACT = ["--merchant-id", "M-9", "--contract-id", "C-9", "--from", "2025-01-01"]
CONTRACT += ["--rule", "RENEWAL=rate:150"]


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Run, Engine]:
    """A seeded data directory (operators ada admin, fin finance, vic viewer) and its CLI."""
    for name in ("ASAP_SYNC_DATA_DIR", "ASAP_SYNC_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--data-dir", str(data)]).exit_code == 0
    engine = make_engine(f"sqlite:///{data / 'asap-sync.sqlite3'}")
    seed(engine)

    def run(*args: str, who: str | None = None, password: str = PASSWORD) -> Result:
        signed = [] if who is None else ["--as", who, "--password-stdin"]
        return runner.invoke(app, [*args, *signed, "--data-dir", str(data)], input=password + "\n")

    assert run("approvals", "require", "on", who="ada").exit_code == 0
    return run, engine


def period_status(run: Run) -> str:
    periods = json.loads(run("periods", "list", "--json").output)
    return str({p["period"]: p["status"] for p in periods}["2026-01"])


def test_a_contract_proposed_in_the_cli_is_approved_by_another_admin(
    place: tuple[Run, Engine],
) -> None:
    run, _engine = place
    proposed = run("contracts", "add", *CONTRACT, who="ada")
    assert proposed.exit_code == 0, proposed.output
    assert "Proposed, awaiting approval: proposal 1" in proposed.output
    contracts = json.loads(run("contracts", "list", "--json").output)
    assert "C-9" not in [c["contractId"] for c in contracts]
    own = run("approvals", "approve", "1", who="ada")
    assert own.exit_code == 1 and "you proposed 1" in own.output
    finance = run("approvals", "approve", "1", who="fin")
    assert finance.exit_code == 1 and "needs the admin role" in finance.output
    listed = json.loads(run("approvals", "list", "--json").output)
    assert [(p["proposalId"], p["status"], p["proposedBy"]) for p in listed] == [
        (1, "pending", "ada")
    ]


def test_the_os_user_and_a_wrong_password_cannot_propose_or_decide(
    place: tuple[Run, Engine],
) -> None:
    run, _engine = place
    anonymous = run("contracts", "add", *CONTRACT)
    assert anonymous.exit_code == 1 and "--as NAME" in anonymous.output
    wrong = run("contracts", "add", *CONTRACT, who="ada", password="not the password at all")
    assert wrong.exit_code == 1 and "not this password" in wrong.output
    off = run("approvals", "require", "off")
    assert off.exit_code == 1 and "--as NAME" in off.output
    viewer = run("approvals", "require", "off", who="vic")
    assert viewer.exit_code == 1 and "only an admin" in viewer.output


def test_a_close_proposed_in_the_cli_is_rejected_withdrawn_or_approved_by_another(
    place: tuple[Run, Engine],
) -> None:
    run, _engine = place
    first = run("periods", "close", "2026-01", "--json", who="fin")
    assert first.exit_code == 0 and json.loads(first.output)["status"] == "pending"
    assert period_status(run) == "OPEN"
    rejected = run("approvals", "reject", "1", "--reason", "wait for the refund", who="ada")
    assert rejected.exit_code == 0 and "is rejected" in rejected.output
    second = run("periods", "close", "2026-01", who="fin")
    assert "proposal 2" in second.output
    by_other = run("approvals", "withdraw", "2", who="ada")
    assert by_other.exit_code == 1 and "only they may withdraw" in by_other.output
    assert run("approvals", "withdraw", "2", who="fin").exit_code == 0
    third = run("periods", "close", "2026-01", who="fin")
    assert "proposal 3" in third.output
    approved = run("approvals", "approve", "3", who="ada")
    assert approved.exit_code == 0, approved.output
    assert period_status(run) == "CLOSED"
    log = json.loads(run("activity", "list", "--json", "--limit", "3").output)
    assert [(c["action"], c["actor"], c["source"]) for c in log] == [
        ("period.close", "ada", "cli"),
        ("proposal.approve", "ada", "cli"),
        ("proposal.add", "fin", "cli"),
    ]


def test_switching_between_console_and_cli_does_not_make_a_second_person(
    place: tuple[Run, Engine], tmp_path: Path
) -> None:
    run, engine = place
    ledger = Ledger(engine)
    ledger.now = T0 + timedelta(days=31)
    site = Site(
        engine=engine,
        ledger=ledger,
        app=build_admin_app(Settings(data_dir=tmp_path), engine=engine, clock=lambda: ledger.now),
    )
    console = site.login("fin")
    page = console.get("/console/periods/2026-01/preview")
    answer = console.post(
        "/console/periods/2026-01/close",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=True,
    )
    assert "Proposed, awaiting approval" in answer.text
    assert "close proposed, awaiting approval" in console.get("/console/periods").text
    same_person = run("approvals", "approve", "1", who="fin")
    assert same_person.exit_code == 1 and "you proposed 1" in same_person.output
