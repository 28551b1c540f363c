"""Reach the official Alipay+ Python SDK, installed in its own virtualenv, from our tests.

The SDK pins its own dependencies (an old ``cryptography`` among them), so it lives in
``<repo>/.cache/official-alipay-sdk-venv``, made by ``scripts/official-sdk-env``, and is driven
through ``bridge.py`` in a subprocess: one JSON object in, one out (see bridge.py for the ops).
Stdlib only; pytest is imported only by :func:`require_official`.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO_ROOT / "scripts" / "official-sdk-env"
BRIDGE = Path(__file__).with_name("bridge.py")
# Set to 1 (e.g. in CI) to fail rather than skip when the SDK cannot be set up.
REQUIRE_ENV = "ASAP_REQUIRE_OFFICIAL_SDK"


class OfficialSdkError(RuntimeError):
    """The official SDK could not be set up, or the bridge failed."""


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


@functools.cache
def _setup() -> tuple[Path | None, str]:
    # Always ask the script: it answers in milliseconds once the venv is complete, and it
    # finishes an interrupted install instead of handing back a python without the SDK.
    try:
        run = subprocess.run(
            ["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{SETUP_SCRIPT.name} did not complete: {exc}"
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines:
        return None, f"{SETUP_SCRIPT.name} exited {run.returncode}: {_tail(run.stderr)}"
    return Path(lines[-1]), ""


def official_python() -> Path | None:
    """The python of the official SDK's venv, set up on first use; None if that fails."""
    return _setup()[0]


def unavailable_reason() -> str:
    return _setup()[1]


def call(op: dict[str, Any]) -> dict[str, Any]:
    """Run one bridge op (or ``{"op": "batch", "items": [...]}``) and return its JSON answer."""
    python = official_python()
    if python is None:
        raise OfficialSdkError(f"official Alipay+ SDK unavailable: {unavailable_reason()}")
    run = subprocess.run(
        [str(python), "-I", str(BRIDGE)],
        input=json.dumps(op).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if run.returncode != 0:
        stderr = _tail(run.stderr.decode(errors="replace"))
        raise OfficialSdkError(f"bridge op {op.get('op')!r} exited {run.returncode}: {stderr}")
    try:
        answer: dict[str, Any] = json.loads(run.stdout)
    except ValueError as exc:
        raise OfficialSdkError(f"bridge op {op.get('op')!r} printed no JSON: {exc}") from exc
    return answer


def require_official() -> Path:
    """Skip the calling test (fail it if $ASAP_REQUIRE_OFFICIAL_SDK=1) when the SDK is absent."""
    python = official_python()
    if python is None:
        import pytest

        reason = f"official Alipay+ SDK unavailable: {unavailable_reason()}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return python
