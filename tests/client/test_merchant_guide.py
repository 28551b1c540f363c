"""docs/merchant-guide.md is executable: every block runs against the fake platform.

In document order: ```python blocks run in one shared namespace; ```sh blocks run each
``asap-sync`` line in-process (``export`` lines set the environment; a trailing
``# exits N`` states the expected status, 0 otherwise); blocks with ``title=<file>`` are
written to that file first. Everything happens in a temporary directory holding
``platform-public.pem``; ``merchant-private.pem`` is made by the guide's own keygen step.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from asap_sync import wire
from asap_sync.cli.main import app

from .fakes import FakePlatform

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "merchant-guide.md"
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
EXITS = re.compile(r"\s+#\s*exits\s+(\d+)\s*$")


def blocks() -> list[tuple[str, str, str]]:
    return [(m[1], m[2].strip(), m[3]) for m in FENCE.finditer(GUIDE.read_text("utf-8"))]


def origin_must_exist(platform: FakePlatform) -> None:
    """Refunds of unknown payments are ORDER_NOT_EXIST, like on the real platform."""
    paid: set[str] = set()

    def decide(request: wire.SyncRequest) -> wire.ResultCode | None:
        if request.direction == "refund" and request.origin_trans_id not in paid:
            return wire.ResultCode.ORDER_NOT_EXIST
        paid.add(request.out_trans_id)
        return None

    platform.decide = decide


def follow_the_merchant_key(platform: FakePlatform, directory: Path) -> None:
    """Register whatever key the guide's keygen step created, as the operator would."""
    real = platform.handle

    def handle(request: httpx.Request) -> httpx.Response:
        pem = directory / "merchant-private.pem"
        platform.merchant_public_key = wire.load_private_key(pem.read_text()).public_key()
        return real(request)

    platform.handle = handle  # type: ignore[method-assign]


def run_shell(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    for raw in block.splitlines():
        line = raw.strip()
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            monkeypatch.setenv(name, value)
            continue
        expected = 0
        if match := EXITS.search(line):
            expected, line = int(match[1]), line[: match.start()]
        words = shlex.split(line)
        assert words[0] == "asap-sync", line
        result = runner.invoke(app, words[1:])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == expected, f"{line}\n{result.output}"


def test_the_merchant_guide_runs_top_to_bottom(
    tmp_path: Path,
    routed: FakePlatform,
    platform_key: rsa.RSAPrivateKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "platform-public.pem").write_text(wire.public_key_pem(platform_key.public_key()))
    origin_must_exist(routed)
    follow_the_merchant_key(routed, tmp_path)
    namespace: dict[str, object] = {"__name__": "guide"}
    ran = {"python": 0, "sh": 0}
    for language, info, code in blocks():
        if info.startswith("title="):
            (tmp_path / info.removeprefix("title=")).write_text(code, encoding="utf-8")
        elif language == "python":
            exec(compile(code, f"{GUIDE.name}:python", "exec"), namespace)  # noqa: S102
            ran["python"] += 1
        elif language == "sh":
            run_shell(code, monkeypatch)
            ran["sh"] += 1
    assert ran["python"] >= 5 and ran["sh"] >= 5
    printed = capsys.readouterr().out
    assert "fix the originTransId: ORDER_NOT_EXIST" in printed
    assert "async: SUCCESS" in printed
    assert {"ORDER-1001", "ORDER-1002", "ORDER-2001", "ORDER-2002", "ORDER-3001"} <= set(
        routed.accepted
    )
    assert set(routed.accepted.values()) == {1}


def test_the_guide_explains_every_result_code() -> None:
    text = GUIDE.read_text("utf-8")
    for code in wire.ResultCode:
        assert f"| `{code.value}` |" in text, code
