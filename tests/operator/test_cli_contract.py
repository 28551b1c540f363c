"""docs/cli.md, held by enumeration: every command of the tree keeps the CLI contract.

Every command must appear in SAMPLES (an invocation that works, and one that fails) or in
EXEMPT (with the reason docs/cli.md gives): a new command without an entry fails this test.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from asap_sync import wire
from asap_sync.cli.conventions import Exit
from asap_sync.cli.main import app
from asap_sync.domain.model import Rule
from asap_sync.service import approvals
from asap_sync.service.admin import NewContract
from asap_sync.service.journal import Actor
from asap_sync.service.operator_ports import Role
from asap_sync.service.operators import add_operator
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.engine import make_engine
from asap_sync.storage.operators import SqlOperatorSessions
from tests.settlement.kit import T0, Ledger, register

EXEMPT = {
    ("serve",): "runs until stopped and logs; readiness is `asap-sync health`",
    ("statements", "export"): "its output is the export itself; `--format json` is JSON",
}
PASSWORD = "correct horse battery staple 42\n"  # for the commands that read one from stdin
KEY = wire.public_key_base64(wire.generate_private_key().public_key())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every runnable command of the tree, hidden aliases left out."""
    subs = getattr(command, "commands", None)
    if subs is None:
        yield path, command
        return
    for name, sub in subs.items():
        if not getattr(sub, "hidden", False):
            yield from leaves(sub, (*path, name))


TREE = dict(leaves(typer.main.get_command(app)))


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a platform key, two settled merchants and a pending refund."""
    root = tmp_path_factory.mktemp("contract")
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--data-dir", str(root / "data")]).exit_code == 0
    engine = make_engine(f"sqlite:///{root / 'data' / 'asap-sync.sqlite3'}")
    register(engine, ["M1", "M2"])
    ledger = Ledger(engine)
    ledger.pay("M1", "P1", 10_000, [("RENEWAL", 6_000), ("NEW_CONTRACT", 4_000)])
    ledger.pay("M2", "P2", 5_005)
    ledger.now = T0 + timedelta(days=30)
    ledger.close("2026-01")
    ledger.refund("M1", "R1", "P1", 2_500)
    propose_three_contracts(engine)
    engine.dispose()
    books = "outTransId,direction,amount_minor\nP1,pay,10000\n"
    (root / "mine.csv").write_text(books)
    (root / "theirs.csv").write_text(books)
    return root


def propose_three_contracts(engine: Engine) -> None:
    """Operators pat and quinn (admins); pat's proposals 1, 2 and 3; approval then off again."""
    at = Actor(name="setup", source="cli", at=T0)
    for name in ("pat", "quinn"):
        add_operator(
            SqlOperatorSessions(engine),
            name,
            role=Role.ADMIN,
            password=PASSWORD.strip(),
            salt=name.encode() * 8,
            actor=at,
        )
    sessions = SqlAdminSessions(engine)
    approvals.set_approval_required(sessions, True, actor=at, role=Role.ADMIN)
    pat = Actor(name="pat", source="cli", at=T0)
    for merchant in ("M7", "M6", "M5"):
        new = NewContract(
            contract_id=f"K-{merchant}",
            merchant_id=merchant,
            valid_from=T0,
            rules={"RENEWAL": Rule(kind="rate", value=100)},
        )
        approvals.add_contract_or_propose(sessions, new, actor=pat, role=Role.ADMIN)
    approvals.set_approval_required(sessions, False, actor=at, role=Role.ADMIN)


def samples(root: Path) -> dict[tuple[str, ...], tuple[list[str], int, list[str], int]]:
    """Per command: arguments that work and their exit status; arguments that fail and theirs."""
    data = ["--data-dir", str(root / "data")]
    missing = ["--data-dir", str(root / "missing")]
    pat, quinn = ["--as", "pat", "--password-stdin"], ["--as", "quinn", "--password-stdin"]
    down = f"http://127.0.0.1:{closed_port()}"
    merchant = ["--client-id", "client-1", "--private-key", str(root / "k.pem")]
    merchant += ["--platform-public-key", KEY, "--max-attempts", "1"]
    row = ["--merchant-id", "M1", "--out-trans-id", "X1", "--trans-date", "2026-01-05T00:00:00Z"]
    row += ["--entity-type", "userId"]
    sync = {"merchantId": "M1", "outTransId": "X2", "transDate": "2026-01-05T00:00:00Z"}
    (root / "rows.jsonl").write_text(json.dumps({**sync, "entityType": "userId"}) + "\n")
    return {
        ("init",): ([*data], 0, ["--database-url", "mysql://x/y"], 2),
        ("migrate",): ([*data], 0, ["--database-url", "nonsense"], 2),
        ("health",): (["--url", down], 3, ["--url", "127.0.0.1:8080"], 2),
        ("clients", "add"): (["C9", "--name", "Nine", *data], 0, ["C9", *missing], 1),
        ("clients", "disable"): (["C9", *data], 0, ["ghost", *data], 1),
        ("clients", "enable"): (["C9", *data], 0, ["C9", *missing], 1),
        ("clients", "list"): ([*data], 0, [*missing], 1),
        ("keys", "add"): (["C9", "--key", KEY, *data], 0, ["C9", "--key", "x", *data], 2),
        ("keys", "list"): ([*data], 0, [*missing], 1),
        ("keys", "retire"): (["C9", "1", *data], 0, ["C9", "1", *data], 1),
        ("merchants", "link"): (["C9", "M9", *data], 0, ["C9", "M9", *data], 1),
        ("merchants", "unlink"): (["C9", "M9", *data], 0, ["C9", "M9", *data], 1),
        ("merchants", "list"): ([*data], 0, [*missing], 1),
        ("contracts", "add"): (
            ["--merchant-id", "M9", "--contract-id", "K9", "--from", "2025-01-01", *data],
            0,
            ["--merchant-id", "M9", "--contract-id", "K8", "--from", "soon", *data],
            2,
        ),
        ("contracts", "end"): (["K9", "--at", "2025-06-01", *data], 0, ["K0", *data], 1),
        ("contracts", "list"): ([*data], 0, [*missing], 1),
        ("platform-key", "show"): ([*data], 0, [*missing], 1),
        ("platform-key", "rotate"): ([*data], 0, [*missing], 1),
        ("rejections", "list"): ([*data], 0, [*missing], 1),
        ("transactions", "list"): ([*data], 0, [*missing], 1),
        ("periods", "list"): ([*data], 0, [*missing], 1),
        ("periods", "close"): (["2026-01", *data], 0, ["2026-13", *data], 2),
        ("periods", "assign"): (["2026-01", *data], 0, ["2026-02", *data], 1),
        ("statements", "list"): ([*data], 0, ["--period", "May", *data], 2),
        ("statements", "show"): (["1", *data], 0, ["999", *data], 1),
        ("statements", "totals"): ([*data], 0, [*missing], 1),
        ("audit",): ([*data], 0, [*missing], 1),
        ("operators", "add"): (
            ["ann", "--role", "admin", "--password-stdin", *data],
            0,
            ["bob", "--role", "king", "--password-stdin", *data],
            2,
        ),
        ("operators", "list"): ([*data], 0, [*missing], 1),
        ("operators", "reset-password"): (
            ["ann", "--password-stdin", *data],
            0,
            ["ghost", "--password-stdin", *data],
            1,
        ),
        ("approvals", "list"): ([*data], 0, ["--status", "maybe", *data], 2),
        ("approvals", "approve"): (["1", *quinn, *data], 0, ["1", *quinn, *data], 1),
        ("approvals", "reject"): (["2", *quinn, *data], 0, ["2", *pat, *data], 1),
        ("approvals", "withdraw"): (["3", *pat, *data], 0, ["3", *quinn, *data], 1),
        ("approvals", "require"): (["off", *quinn, *data], 0, ["off", *data], 1),
        ("operators", "disable"): (["ann", *data], 0, ["ghost", *data], 1),
        ("activity", "list"): ([*data], 0, ["--limit", "0", *data], 2),
        ("merchant-side", "keygen"): (
            ["--out", str(root / "k.pem")],
            0,
            ["--out", str(root / "k.pem")],
            2,
        ),
        ("merchant-side", "send"): (
            ["--base-url", down, *merchant, *row],
            3,
            ["--base-url", "127.0.0.1:8080", *merchant, *row],
            2,
        ),
        ("merchant-side", "bulk-send"): (
            [str(root / "rows.jsonl"), "--base-url", down, *merchant],
            3,
            [str(root / "rows.jsonl"), "--base-url", f"{down}/api", *merchant],
            2,
        ),
        ("merchant-side", "reconcile"): (
            [str(root / "mine.csv"), str(root / "theirs.csv")],
            0,
            [str(root / "mine.csv"), str(root / "nowhere.csv")],
            2,
        ),
    }


def test_every_command_is_held_to_the_contract_or_exempt_with_a_reason(place: Path) -> None:
    covered = set(samples(place)) | set(EXEMPT)
    assert set(TREE) == covered, "add the new command to SAMPLES or EXEMPT (docs/cli.md)"


SNAKE_KEY = re.compile(r"[a-z0-9]_[a-z]")
DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
OFFSET = re.compile(r"([+-]\d\d:\d\d|Z)$")


def check_document(value: Any, where: str) -> None:
    """camelCase keys, times with an offset, every amount in minor units with its decimal."""
    if isinstance(value, list):
        for item in value:
            check_document(item, where)
        return
    if isinstance(value, str):
        assert not DATETIME.match(value) or OFFSET.search(value), f"{where}: time {value!r}"
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        assert not SNAKE_KEY.search(key), f"{where}: key {key!r} is not camelCase"
        if key.endswith("Minor") and isinstance(item, int):
            assert key.removesuffix("Minor") + "Hkd" in value, f"{where}: {key} without Hkd"
        if key.endswith("E4") and isinstance(item, int):
            base = key.removesuffix("E4")
            assert {base + "Hkd", base + "ExactHkd"} & value.keys(), f"{where}: {key}"
        check_document(item, f"{where}.{key}")


def one_error_line(result: Result, status: int, where: str) -> None:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{where}: {result.stderr!r}"
    assert result.exit_code == status, f"{where}: {result.exit_code} {result.stderr}"


def test_every_command_prints_one_json_document_and_fails_in_one_line(place: Path) -> None:
    runner = CliRunner()
    statuses = {int(s) for s in Exit}
    for path, (good, good_status, bad, bad_status) in samples(place).items():
        where = " ".join(path)
        result = runner.invoke(app, [*path, *good, "--json"], input=PASSWORD)
        assert result.exit_code == good_status, f"{where}: {result.output}"
        document = json.loads(result.stdout)  # exactly one document
        check_document(document, where)
        if good_status:
            one_error_line(result, good_status, where)
            assert document["error"]["exitStatus"] == good_status
        failed = runner.invoke(app, [*path, *bad, "--json"], input=PASSWORD)
        one_error_line(failed, bad_status, where)
        assert bad_status in statuses
        error = json.loads(failed.stdout)["error"]
        assert error == {
            "code": Exit(bad_status).name,
            "exitStatus": bad_status,
            "message": failed.stderr.removeprefix("error: ").strip(),
        }, where
        plain = runner.invoke(app, [*path, *bad], input=PASSWORD)
        assert plain.stdout == "" or bad_status == Exit.USAGE, where
        one_error_line(plain, bad_status, where)
    assert not (place / "missing").exists(), "a reading command created a data directory"


@pytest.mark.parametrize("path", sorted(TREE), ids=" ".join)
def test_help_works_and_shows_every_default(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0 and result.stdout.startswith("Usage: asap-sync")
    assert "<bool>" not in result.stdout
    command = TREE[path]
    ctx = command.make_context("asap-sync", ["--help"], resilient_parsing=True)
    for param in command.params:
        record = param.get_help_record(ctx)
        if record is None or param.name == "help" or getattr(param, "is_flag", False):
            continue
        if param.required:
            continue
        assert "default:" in record[1], f"{' '.join(path)} {record[0]} shows no default"
    if path not in EXEMPT:
        assert "--json" in result.stdout, f"{' '.join(path)} has no --json"


@pytest.mark.parametrize("path", sorted(TREE), ids=" ".join)
def test_a_usage_error_is_one_line_and_exit_2(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--no-such-option"])
    assert result.exit_code == Exit.USAGE
    assert result.stderr.splitlines() == [
        f"error: No such option: --no-such-option (see 'asap-sync {' '.join(path)} --help')"
    ]


def test_version_prints_the_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"asap-sync \S+\n", result.stdout)
