"""``asap-sync serve`` prepares observability before its workers start: the per-run metrics
directory, the connection-counting protocol, the log format."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from prometheus_client import values

from asap_sync.cli import operator
from asap_sync.http.metrics import MULTIPROCESS_ENV, prepare_metrics_directory
from asap_sync.http.socket_limits import GuardedHttpToolsProtocol

from .conftest import Cli


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stands in for uvicorn.run, noting where the metrics directory was while it ran."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(os, "environ", dict(os.environ))
    monkeypatch.delitem(os.environ, MULTIPROCESS_ENV, raising=False)

    def run(app: str, **options: Any) -> None:
        directory = Path(os.environ[MULTIPROCESS_ENV])
        calls.append({"app": app, "metrics_dir": directory, "existed": directory.is_dir()})
        calls[-1].update(options)

    monkeypatch.setattr(operator.uvicorn, "run", run)
    return calls


def serve(cli: Cli, *args: str) -> Result:
    """``serve`` on a free port without the admin listener: other servers may run here."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return cli("serve", "--no-admin", "--port", str(port), *args)


def test_serve_runs_the_guarded_protocol_in_a_per_run_metrics_directory_removed_after(
    cli: Cli, uvicorn_calls: list[dict[str, Any]]
) -> None:
    store = values.ValueClass
    result = serve(cli, "--workers", "2")
    assert result.exit_code == 0, result.output
    [call] = uvicorn_calls
    assert call["http"].func is GuardedHttpToolsProtocol  # it also counts open connections
    assert call["existed"] and not call["metrics_dir"].exists()
    assert values.ValueClass is store  # this process's metrics are as they were


def test_serve_hands_uvicorn_a_json_log_configuration_from_the_flag_or_the_environment(
    cli: Cli, uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert serve(cli, "--log-format", "json").exit_code == 0
    monkeypatch.setenv("ASAP_SYNC_LOG_FORMAT", "json")
    assert serve(cli).exit_code == 0
    for call in uvicorn_calls:
        formatter = call["log_config"]["formatters"]["default"]
        assert formatter == {"()": "asap_sync.logs.JsonFormatter"}
    assert os.environ["ASAP_SYNC_LOG_FORMAT"] == "json"  # the workers configure the same


def test_serve_refuses_an_unknown_log_format(cli: Cli, uvicorn_calls: list[dict[str, Any]]) -> None:
    result = serve(cli, "--log-format", "xml")
    assert result.exit_code != 0 and uvicorn_calls == []


def test_an_operator_chosen_metrics_directory_is_emptied_and_kept(tmp_path: Path) -> None:
    chosen = tmp_path / "metrics"
    chosen.mkdir()
    (chosen / "counter_123.db").write_bytes(b"stale")
    (chosen / "notes.txt").write_text("not ours")
    store = values.ValueClass
    directory = prepare_metrics_directory({MULTIPROCESS_ENV: str(chosen)})
    try:
        assert directory.path == chosen and not directory.owned
        assert sorted(p.name for p in chosen.iterdir()) == ["notes.txt"]
    finally:
        directory.close()
    assert chosen.is_dir() and values.ValueClass is store


def test_without_a_chosen_directory_a_private_one_is_made_and_named_for_the_workers() -> None:
    environ: dict[str, str] = {}
    directory = prepare_metrics_directory(environ)
    try:
        assert directory.owned and directory.path.is_dir()
        assert environ[MULTIPROCESS_ENV] == str(directory.path)
    finally:
        directory.close()
    assert not directory.path.exists()
