"""Key custody over the real commands: owner-only files, and the platform key from a file or
an environment variable, checked before the server starts."""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from asap_sync.storage.file_modes import CustodyError, secure_data_dir
from asap_sync.wire import generate_private_key, parse_signature_header, private_key_pem
from tests.hostile.conftest import prepared
from tests.hostile.harness import REPO, exchange, signed_answer_problem, start_hostile_server
from tests.hostile.requests import Request, compact, fresh_body

CLI = [sys.executable, "-c", "from asap_sync.cli.main import main; main()"]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    return subprocess.run(
        [*CLI, *args], env=full_env, capture_output=True, text=True, timeout=60, check=False
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_and_serve_keep_every_database_file_owner_only_in_an_owner_only_directory(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)  # noqa: S103 - the mistake under test
    result = cli("init", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert mode(data_dir) == 0o700
    server = start_hostile_server(data_dir)
    try:
        exchange(server.port, Request(compact(fresh_body(random.Random()))).sign().frame())
    finally:
        server.stop()
    files = sorted(data_dir.iterdir())
    assert {f.name for f in files} >= {"asap-sync.sqlite3", "asap-sync.sqlite3-writelock"}
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_a_database_file_left_readable_by_others_is_tightened_when_it_is_opened(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    assert cli("init", "--data-dir", str(data_dir)).returncode == 0
    database = data_dir / "asap-sync.sqlite3"
    os.chmod(database, 0o644)
    assert cli("platform-key", "show", "--data-dir", str(data_dir)).returncode == 0
    assert mode(database) == 0o600


def test_a_data_directory_open_to_others_and_owned_by_someone_else_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)  # noqa: S103 - the mistake under test
    monkeypatch.setattr(os, "geteuid", lambda: data_dir.stat().st_uid + 1)
    with pytest.raises(CustodyError, match="open to others"):
        secure_data_dir(data_dir)
    assert mode(data_dir) == 0o755


@pytest.fixture
def initialised(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    prepared(f"sqlite:///{data_dir / 'asap-sync.sqlite3'}")
    return data_dir


def test_serve_refuses_a_platform_key_file_that_others_can_read(
    initialised: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "platform.pem"
    key_file.write_text(private_key_pem(generate_private_key()))
    os.chmod(key_file, 0o640)
    result = cli(
        "serve", "--data-dir", str(initialised), env={"ASAP_SYNC_PLATFORM_KEY": f"file:{key_file}"}
    )
    assert result.returncode == 1
    assert "is readable by others (mode 0640): chmod 600 it" in result.stdout + result.stderr


@pytest.mark.parametrize("source", ["file", "env"])
def test_answers_are_signed_with_a_platform_key_kept_outside_the_database(
    initialised: Path, tmp_path: Path, source: str
) -> None:
    key = generate_private_key()
    env = {"ASAP_SYNC_PLATFORM_KEY_VERSION": "3"}
    if source == "file":
        key_file = tmp_path / "platform.pem"
        key_file.touch(mode=0o600)
        key_file.write_text(private_key_pem(key))
        env["ASAP_SYNC_PLATFORM_KEY"] = f"file:{key_file}"
    else:
        env["ASAP_SYNC_PLATFORM_KEY"] = "env:ASAP_TEST_PLATFORM_PEM"
        env["ASAP_TEST_PLATFORM_PEM"] = private_key_pem(key)
    server = start_hostile_server(initialised, extra_env=env)
    try:
        reply = exchange(server.port, Request(compact(fresh_body(random.Random()))).sign().frame())
    finally:
        server.stop()
    assert signed_answer_problem(reply, "POST", key.public_key()) is None
    assert parse_signature_header(reply.headers["signature"]).key_version == "3"
    assert json.loads(reply.body)["success"] is True


def test_with_postgresql_configured_but_unreachable_the_test_run_fails_instead_of_skipping() -> (
    None
):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_gateway_codes.py::test_a_valid_signed_sync_is_accepted",
        ],
        cwd=REPO,
        env={**os.environ, "ASAP_SYNC_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:9/x"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "is set but unreachable" in result.stdout
