"""``asap-sync health`` asks ``/readyz`` and passes on why a server is not ready."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from asap_sync.cli.main import app


def _answer(status: int, body: dict[str, Any]) -> Any:
    def get(url: str, **_: Any) -> httpx.Response:
        assert url.endswith("/readyz")
        return httpx.Response(status, json=body, request=httpx.Request("GET", url))

    return get


def test_a_ready_server_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx, "get", _answer(200, {"status": "ok", "checks": {}}))
    result = CliRunner().invoke(app, ["health", "--url", "http://127.0.0.1:8080"])
    assert result.exit_code == 0, result.output
    assert "is ready" in result.output


def test_a_server_that_is_not_ready_fails_with_its_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = {"database": "ok", "schema": "at 0005, needs 0007: run asap-sync migrate"}
    monkeypatch.setattr(httpx, "get", _answer(503, {"status": "unavailable", "checks": checks}))
    result = CliRunner().invoke(app, ["health", "--url", "http://127.0.0.1:8080"])
    assert result.exit_code == 3
    assert "readyz answered HTTP 503 (schema: at 0005, needs 0007" in result.output
    assert "database" not in result.output  # only the failing checks are named
