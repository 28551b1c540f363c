"""Fresh databases, server processes and CPU accounting for one benchmark run."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import text

from asap_sync.storage.engine import make_engine

REPO = Path(__file__).resolve().parents[1]
PYTHONPATH = os.pathsep.join([str(REPO / "src"), str(REPO)])


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path, admin_url: str) -> Iterator[str]:
    """A new, empty database: a SQLite file in ``workdir``, or a PostgreSQL database created
    on ``admin_url``'s server and dropped afterwards."""
    if kind == "sqlite":
        workdir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    name = f"asap_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_rows(url: str, table: str) -> int:
    """The number of rows in a table (checks that every answered success was written)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def backend_pids(admin_url: str, url: str) -> list[int]:
    """The PostgreSQL backends connected to ``url``'s database (none for SQLite)."""
    if not url.startswith("postgresql"):
        return []
    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def cpu_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each live process (PostgreSQL runs on this machine)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVERS = ("uvicorn", "granian")


def server_command(server: str, factory: str, port: int, workers: int) -> list[str]:
    """uvicorn (httptools, uvloop) or granian (ASGI, uvloop, HTTP/1.1), access log off."""
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", factory, "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--http", "httptools", "--loop", "uvloop",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "1",
        "--no-access-log", "--log-level", "warning", factory,
    ]  # fmt: skip


@contextlib.contextmanager
def asgi_server(
    factory: str, env: Mapping[str, str], log: Path, *, workers: int, server: str = "uvicorn"
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``factory`` served by ``server`` with N workers on a free port; yields port and process."""
    port = free_port()
    command = server_command(server, factory, port, workers)
    full_env = {**os.environ, **env, "PYTHONPATH": PYTHONPATH}
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(process, port, log, workers)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path, workers: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            answered = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code
            # Every worker must be up before timing starts, not just the first to answer.
            if answered == 200 and len(_children(process.pid)) >= workers:
                time.sleep(1.0)
                return
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start within 60 s:\n{log.read_text()}")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live children."""
    return sum(cpu_of([pid, *_children(pid)]).values())


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))
