"""``asap-sync serve``: refuses a database it cannot serve, initialises a fresh embedded one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from asap_sync.cli import operator
from asap_sync.cli.main import app
from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import head_revision, upgrade
from tests.conftest import POSTGRES_ENV

from .conftest import Cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stands in for uvicorn.run; serve's environment changes stay inside the test."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(os, "environ", dict(os.environ))
    monkeypatch.setattr(
        operator.uvicorn, "run", lambda app, **options: calls.append({"app": app, **options})
    )
    return calls


def test_serve_refuses_a_database_that_is_not_migrated(
    cli: Cli, data_dir: Path, uvicorn_calls: list[dict[str, Any]]
) -> None:
    data_dir.mkdir()
    make_engine(f"sqlite:///{data_dir / 'asap-sync.sqlite3'}").connect().close()
    result = cli("serve")
    assert result.exit_code == 1
    assert "is not initialised: run `asap-sync init`" in result.output
    assert uvicorn_calls == []


def test_serve_refuses_a_database_behind_this_version(
    cli: Cli, data_dir: Path, uvicorn_calls: list[dict[str, Any]]
) -> None:
    if head_revision() == "0001":
        pytest.skip("only one migration exists: nothing can be behind")
    data_dir.mkdir()
    upgrade(make_engine(f"sqlite:///{data_dir / 'asap-sync.sqlite3'}"), "0001")
    result = cli("serve")
    assert result.exit_code == 1 and "run `asap-sync migrate`" in result.output
    assert uvicorn_calls == []


def test_serve_on_a_fresh_machine_initialises_the_embedded_database_and_runs_workers(
    cli: Cli, data_dir: Path, uvicorn_calls: list[dict[str, Any]]
) -> None:
    result = cli("serve", "--port", "9123", "--workers", "3")
    assert result.exit_code == 0, result.output
    assert "one-line base64:" in result.output
    [call] = uvicorn_calls
    assert call["app"] == "asap_sync.bootstrap:create_app" and call["factory"] is True
    assert (call["port"], call["workers"]) == (9123, 3)
    assert os.environ["ASAP_SYNC_DATA_DIR"] == str(data_dir.resolve())
    assert os.environ["ASAP_SYNC_WORKERS"] == "3"


def test_serve_does_not_initialise_again_once_initialised(
    cli: Cli, uvicorn_calls: list[dict[str, Any]]
) -> None:
    cli("init")
    result = cli("serve")
    assert result.exit_code == 0 and "initialising" not in result.output
    assert len(uvicorn_calls) == 1


def test_serve_on_an_unreachable_database_is_a_one_line_error(
    uvicorn_calls: list[dict[str, Any]],
) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1
    result = CliRunner().invoke(app, ["serve", "--database-url", url], catch_exceptions=False)
    assert result.exit_code == 3 and result.output.startswith("error: database error:")
    assert len(result.output.strip().splitlines()) == 1
    assert uvicorn_calls == []


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A PostgreSQL database with no schema at all, dropped afterwards."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_ENV}")
    name = f"asap_empty_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.skip(f"PostgreSQL tests skipped: {server} is unreachable ({exc.__class__.__name__})")
    yield f"{server.rpartition('/')[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_serve_refuses_a_postgres_database_that_is_not_initialised(
    empty_postgres_url: str, uvicorn_calls: list[dict[str, Any]]
) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--database-url", empty_postgres_url])
    assert result.exit_code == 1 and "is not initialised: run `asap-sync init`" in result.output
    assert runner.invoke(app, ["init", "--database-url", empty_postgres_url]).exit_code == 0
    assert runner.invoke(app, ["serve", "--database-url", empty_postgres_url]).exit_code == 0
    assert len(uvicorn_calls) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_alone_starts_a_server_on_a_fresh_data_dir(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASAP_SYNC_")}
    env["PYTHONPATH"] = str(REPO / "src")
    command = "import sys; from asap_sync.cli.main import main; sys.argv[0] = 'asap-sync'; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", command, "serve", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _healthy(f"http://127.0.0.1:{port}/healthz", process)
        assert (tmp_path / "asap-data" / "asap-sync.sqlite3").exists()
    finally:
        process.terminate()
        process.wait(timeout=20)


def _healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.2)
    return False
