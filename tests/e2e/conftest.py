"""Real server processes: the ASGI server with several workers, over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from asap_sync.storage.engine import make_engine
from tests.kit import register

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A running server: its base URL, database and engine."""

    base_url: str
    port: int
    database_url: str
    engine: Engine


def start_server(
    database_url: str, tmp: Path, *, workers: int = 2, new_session: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    """The server on a free port, once it answers; ``new_session``: in a process group of its
    own (supervisor and workers), so that one signal reaches them all."""
    port = free_port()
    env = {
        **os.environ,
        "ASAP_SYNC_DATABASE_URL": database_url,
        "ASAP_SYNC_DATA_DIR": str(tmp),
        "ASAP_SYNC_LOG_LEVEL": "warning",
        "PYTHONPATH": str(REPO / "src"),
    }
    log = (tmp / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "asap_sync.bootstrap:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=new_session,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {(tmp / f'server-{port}.log').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start within 30 s")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A registered merchant and a two-worker server on the test database."""
    engine = make_engine(database_url)
    register(engine)
    process, port = start_server(database_url, tmp_path)
    try:
        yield Server(f"http://127.0.0.1:{port}", port, database_url, engine)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        engine.dispose()
