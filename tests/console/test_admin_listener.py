"""The admin listener: its own address, off on request, ``/metrics`` mounted when built."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from asap_sync.bootstrap import build_admin_app
from asap_sync.cli import operator
from asap_sync.cli.admin_listener import AdminListenerFailed, admin_listener
from asap_sync.cli.main import app
from asap_sync.config import Settings
from asap_sync.service.ports import Rejection
from asap_sync.storage.directory import SqlRejectionLog
from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from asap_sync.storage.tables import console_days


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'asap-sync.sqlite3'}")
    upgrade(engine)
    engine.dispose()
    return Settings(data_dir=tmp_path, admin_port=0)


def test_the_console_answers_on_the_admin_listener_while_it_runs(settings: Settings) -> None:
    with admin_listener(settings) as url:
        assert url is not None and url.startswith("http://127.0.0.1:")
        answer = httpx.get(url + "login", timeout=10)
        assert answer.status_code == 200
        assert "asap-sync console" in answer.text
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "login", timeout=2)


def test_no_admin_serves_nothing(settings: Settings) -> None:
    with admin_listener(settings.with_changes(admin_enabled=False)) as url:
        assert url is None


def test_a_taken_admin_port_is_a_one_line_error(settings: Settings) -> None:
    with admin_listener(settings) as url:
        assert url is not None
        port = int(url.split(":")[2].split("/")[0])
        with (
            pytest.raises(AdminListenerFailed, match=f"127.0.0.1:{port}"),
            admin_listener(settings.with_changes(admin_port=port)),
        ):
            pass


def test_a_taken_default_admin_port_is_a_warning_and_the_server_goes_on(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with admin_listener(settings) as url:
        assert url is not None
        port = int(url.split(":")[2].split("/")[0])
        with admin_listener(settings.with_changes(admin_port=port), required=False) as second:
            assert second is None
    assert (
        f"warning: the admin listener could not start on 127.0.0.1:{port}"
        in capsys.readouterr().err
    )


def test_the_admin_settings_come_from_asap_sync_admin_variables() -> None:
    env = {"ASAP_SYNC_ADMIN_HOST": "0.0.0.0", "ASAP_SYNC_ADMIN_PORT": "9100"}
    built = Settings.from_env({**env, "ASAP_SYNC_ADMIN_ENABLED": "false"})
    assert (built.admin_host, built.admin_port, built.admin_enabled) == ("0.0.0.0", 9100, False)
    assert Settings.from_env({}).admin_enabled is True
    with pytest.raises(ValueError, match="ASAP_SYNC_ADMIN_ENABLED"):
        Settings.from_env({"ASAP_SYNC_ADMIN_ENABLED": "perhaps"})


def test_metrics_are_served_on_the_admin_listener(settings: Settings) -> None:
    client = TestClient(build_admin_app(settings))
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "# TYPE" in answer.text or "# HELP" in answer.text


def test_serve_runs_the_console_beside_the_public_listener(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def public_listener(app: str, **options: Any) -> None:
        # While the public listener would run, the console answers on its own address.
        if console_url:
            seen.append(httpx.get(console_url[0] + "login", timeout=10).status_code)

    console_url: list[str] = []
    real_echo = operator.typer.echo

    def echo(message: Any = "", *args: Any, **kwargs: Any) -> None:
        found = re.search(r"Operator console on (\S+) ", str(message))
        if found:
            console_url.append(found.group(1))
        real_echo(message, *args, **kwargs)

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if "ASAP" not in k})
    monkeypatch.setattr(operator.uvicorn, "run", public_listener)
    monkeypatch.setattr(operator.typer, "echo", echo)
    where = ["--data-dir", str(tmp_path / "data"), "--port", "0"]
    result = CliRunner().invoke(app, ["serve", *where, "--admin-port", "0"])
    assert result.exit_code == 0, result.output
    assert seen == [200]
    console_url.clear()
    quiet = CliRunner().invoke(app, ["serve", *where, "--no-admin"])
    assert quiet.exit_code == 0 and "Operator console" not in quiet.output


def test_the_listener_summarizes_past_days_as_it_starts(settings: Settings) -> None:
    engine = make_engine(f"sqlite:///{settings.data_dir / 'asap-sync.sqlite3'}")
    try:
        two_days_ago = datetime.now(UTC) - timedelta(days=2)
        SqlRejectionLog(engine).record(
            Rejection(received_at=two_days_ago, code="INVALID_SIGNATURE", context="x")
        )
        with admin_listener(settings) as url:
            assert url is not None
            deadline, summarized = time.monotonic() + 30, 0
            while not summarized and time.monotonic() < deadline:
                with engine.connect() as conn:
                    count = select(func.count()).select_from(console_days)
                    summarized = conn.execute(count).scalar_one()
                time.sleep(0.05)
        assert summarized > 0  # no page was asked for
    finally:
        engine.dispose()
