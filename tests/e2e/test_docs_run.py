"""The README's quickstart and the operator and merchant guides, run as written.

Each runs in a fresh directory laid out like a clone (``./run`` and ``.venv/bin/asap-sync``,
both pointing at the code under test) against a real server on a fresh data directory. Bash
blocks run in bash exactly as a reader would paste them, with one change: port 8080 becomes a
free port. A trailing ``# exits N`` states a command's expected exit status (0 otherwise).
Python blocks of the merchant guide run in one shared namespace, in document order.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from asap_sync import wire
from tests.e2e.conftest import REPO, free_port

pytestmark = pytest.mark.e2e

FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
EXITS = re.compile(r"\s+#\s*exits\s+(\d+)\s*$")
RUN_SHIM = """#!/usr/bin/env bash
# stands in for the project's ./run: the project is already installed
here="$(cd "$(dirname "$0")" && pwd)"
case "${1:-}" in
    setup) exit 0 ;;
    serve) shift; exec "$here/.venv/bin/asap-sync" serve "$@" ;;
    *) echo "unexpected: ./run $*" >&2; exit 2 ;;
esac
"""


def blocks(document: Path) -> list[tuple[str, str, str]]:
    """(language, info, code) of every fenced block, in order."""
    return [(m[1], m[2].strip(), m[3]) for m in FENCE.finditer(document.read_text("utf-8"))]


@dataclass(frozen=True)
class Clone:
    """A directory laid out like a fresh clone, and the environment of a reader's shell."""

    path: Path
    port: int
    env: dict[str, str]

    def script(self, code: str) -> str:
        """A block as bash runs it: the test's port, exit statuses checked."""
        lines = []
        for line in code.replace("\\\n", " ").replace("8080", str(self.port)).splitlines():
            match = EXITS.search(line)
            if match is None:
                lines.append(line)
                continue
            command, want = line[: match.start()], match[1]
            lines.append(
                f'rc=0; {command} || rc=$?; [ "$rc" -eq {want} ] || '
                f'{{ echo "exit $rc, not {want}: {command}" >&2; exit 1; }}'
            )
        return "\n".join(lines)

    def bash(self, code: str, *, timeout: int = 240) -> subprocess.CompletedProcess[str]:
        """Run bash code in the clone in its own process group; kill whatever it left running."""
        process = subprocess.Popen(
            ["bash", "-c", "set -eo pipefail\n" + code],
            cwd=self.path,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.fixture
def clone(tmp_path: Path) -> Clone:
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "asap-sync").symlink_to(Path(sys.executable).parent / "asap-sync")
    (tmp_path / "run").write_text(RUN_SHIM)
    (tmp_path / "run").chmod(0o755)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASAP_SYNC_")}
    env |= {"ASAP_SYNC_PORT": str(port), "ASAP_SYNC_WORKERS": "1", "ASAP_SYNC_LOG_LEVEL": "warning"}
    env["ASAP_SYNC_ADMIN_PORT"] = str(free_port())  # the console's listener, beside the API
    env["PATH"] = f"{tmp_path / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return Clone(path=tmp_path, port=port, env=env)


def bash_blocks(document: Path, section: str | None = None) -> str:
    text = document.read_text("utf-8")
    if section is not None:
        text = text.split(section, 1)[1].split("\n## ", 1)[0]
    return "\n".join(m[3] for m in FENCE.finditer(text) if m[1] in ("bash", "sh"))


def test_the_readme_quickstart_runs_pasted_whole_on_a_fresh_clone(clone: Clone) -> None:
    code = bash_blocks(REPO / "README.md", "## Quickstart")
    run = clone.bash(clone.script(code))
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert "\nSUCCESS\n" in run.stdout
    assert "1 statement, 1 transaction" in run.stdout
    assert "Audit OK" in run.stdout


def test_the_operator_guide_runs_top_to_bottom(clone: Clone) -> None:
    run = clone.bash(clone.script(bash_blocks(REPO / "docs" / "operator-guide.md")))
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert "Contract CPS-2461 now runs 2025-01-01 to 2025-07-01." in run.stdout


GUIDE = REPO / "docs" / "merchant-guide.md"


@pytest.fixture
def platform(clone: Clone) -> Iterator[subprocess.Popen[bytes]]:
    """``asap-sync serve`` on a fresh data directory of the clone."""
    server = subprocess.Popen(
        ["asap-sync", "serve"],
        cwd=clone.path,
        env=clone.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        ready = clone.bash(f"asap-sync health --url http://127.0.0.1:{clone.port} --wait 60")
        assert ready.returncode == 0, ready.stderr
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


OPERATOR = """
asap-sync clients add 211020000000000000044 --name "Example ISV"
asap-sync keys add 211020000000000000044 --key-file merchant-public.pem
asap-sync merchants link 211020000000000000044 2160120033934460
asap-sync contracts add --merchant-id 2160120033934460 --contract-id CPS-2025 --from 2025-01-01 \
    --rule RENEWAL=rate:150 --rule NEW_CONTRACT=fixed:5000 --default-rate 0
asap-sync platform-key show --out platform-public.pem
"""

ASSIGNMENT = re.compile(r"^(export\s+)?[A-Za-z_][A-Za-z0-9_]*=")


def test_the_merchant_guide_runs_top_to_bottom(
    clone: Clone,
    platform: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(clone.path)
    namespace: dict[str, object] = {"__name__": "guide"}
    shell_state: list[str] = []  # a reader's shell keeps its variables from block to block
    ran = {"python": 0, "sh": 0}
    for language, info, code in blocks(GUIDE):
        if info.startswith("title="):
            (clone.path / info.removeprefix("title=")).write_text(code, encoding="utf-8")
        elif language == "python":
            code = code.replace("8080", str(clone.port))
            exec(compile(code, f"{GUIDE.name}:python", "exec"), namespace)  # noqa: S102
            ran["python"] += 1
        elif language == "sh":
            run = clone.bash(clone.script("\n".join([*shell_state, code])))
            assert run.returncode == 0, f"{code}\n{run.stdout}\n{run.stderr}"
            shell_state += [line for line in code.splitlines() if ASSIGNMENT.match(line)]
            ran["sh"] += 1
            if ran["sh"] == 1:  # the merchant gave its public key; the operator registers it
                done = clone.bash(clone.script(OPERATOR))
                assert done.returncode == 0, done.stderr
    assert ran["python"] >= 5 and ran["sh"] >= 5
    printed = capsys.readouterr().out
    assert "fix the originTransId: ORDER_NOT_EXIST" in printed
    assert "async: SUCCESS" in printed
    listed = clone.bash("asap-sync transactions list --json --limit 100")
    accepted = set(re.findall(r'"outTransId": "([^"]+)"', listed.stdout))
    assert {"ORDER-0001", "REFUND-0001", "ORDER-1001", "ORDER-1002", "ORDER-2001"} <= accepted
    assert {"ORDER-2002", "ORDER-3001"} <= accepted and "ORDER-1003" not in accepted


def test_the_merchant_guide_explains_every_result_code() -> None:
    text = GUIDE.read_text("utf-8")
    for code in wire.ResultCode:
        assert f"| `{code.value}` |" in text, code
