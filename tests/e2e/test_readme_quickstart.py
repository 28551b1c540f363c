"""The README's quickstart, followed as written, in a fresh directory against a real server."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.e2e.conftest import REPO, free_port
from tests.kit import VECTORS

SKIPPED = ("./run serve", "alias ")


def quickstart_commands() -> list[str]:
    """Every command of the Quickstart's bash blocks, continuation lines joined."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#") and not command.startswith(SKIPPED):
                commands.append(command)
    return commands


def test_the_readme_quickstart_works_as_written(tmp_path: Path) -> None:
    sample = json.loads(VECTORS["vectors"][0]["body"])
    sample["transDate"] = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    (tmp_path / "sync.json").write_text(json.dumps(sample, indent=4, ensure_ascii=False))
    port = free_port()
    cli = [sys.executable, "-c", "from asap_sync.cli.main import main; main()"]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "ASAP_SYNC_PORT": str(port),
        "ASAP_SYNC_LOG_LEVEL": "warning",
    }
    env.pop("ASAP_SYNC_DATABASE_URL", None)
    server = subprocess.Popen(
        [*cli, "serve"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_healthy(port)
        for command in quickstart_commands():
            words = shlex.split(command.replace("8080", str(port)))
            assert words[0] == "asap-sync", command
            run = subprocess.run(
                [*cli, *words[1:]],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
            if words[1:3] == ["merchant", "send"]:
                assert run.stdout.startswith("SUCCESS"), run.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not start")
