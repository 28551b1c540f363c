"""A real server process for hostile input, raw-socket requests and the checks on each answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync.wire import ENDPOINT_PATH, parse_signature_header, signing_content, verify
from tests.kit import platform_key

REPO = Path(__file__).resolve().parents[2]
PLAIN_STATUSES = frozenset({400, 408, 413, 431})
HEAD_TIMEOUT = 1.0  # the hostile server's deadlines: short, so slow cases stay fast
BODY_TIMEOUT = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HostileServer:
    """``asap-sync serve`` with one worker, its log file and its process id."""

    port: int
    log: Path
    process: subprocess.Popen[bytes]
    database_url: str

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def rss_kib(self) -> int:
        """Resident memory of the worker (one worker: the serving process itself)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_hostile_server(
    data_dir: Path, *, database_url: str = "", extra_env: dict[str, str] | None = None
) -> HostileServer:
    """Serve the (already initialised) database with the product's own ``serve`` command."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "ASAP_SYNC_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
        "ASAP_SYNC_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        **(extra_env or {}),
    }
    if database_url:
        env["ASAP_SYNC_DATABASE_URL"] = database_url
    log = data_dir.parent / f"hostile-server-{port}.log"
    command = [sys.executable, "-c", "from asap_sync.cli.main import main; main()", "serve"]
    command += ["--data-dir", str(data_dir)]
    command += ["--port", str(port), "--workers", "1", "--log-level", "info"]
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = database_url or f"sqlite:///{data_dir / 'asap-sync.sqlite3'}"
    server = HostileServer(port, log, process, url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {server.log_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("server did not start within 30 s")


@dataclass
class Reply:
    """What came back on the socket: a parsed response, or nothing before the socket closed."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    duplicate_headers: bool = False


def exchange(
    port: int, payload: bytes, *, pace: float = 0.0, wait: float = 10.0, source: str = ""
) -> Reply:
    """Send ``payload`` (in small pieces ``pace`` seconds apart when given) and read one answer;
    ``source`` picks the local address (any of 127.0.0.0/8) the request comes from."""
    address = (source, 0) if source else None
    with socket.create_connection(
        ("127.0.0.1", port), timeout=wait, source_address=address
    ) as sock:
        try:
            if pace:
                for i in range(0, len(payload), 8):
                    sock.sendall(payload[i : i + 8])
                    time.sleep(pace)
            else:
                sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused early; its answer may still be readable
        return read_reply(sock)


def read_reply(sock: socket.socket) -> Reply:
    data = b""
    try:
        while True:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return Reply(status=None)
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 1"):  # an interim 100 Continue is not the answer
                break
            data = rest
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        duplicates = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            duplicates |= name.lower() in headers
            headers[name.lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Reply(status, headers, rest[:length], duplicates)
    except (ConnectionResetError, TimeoutError):
        return Reply(status=None)


def signed_answer_problem(
    reply: Reply, method: str, key: rsa.RSAPublicKey | None = None
) -> str | None:
    """Why the reply is not a signed 200 of the endpoint that verifies, or None."""
    if reply.status != 200:
        return f"status {reply.status}"
    for name in ("client-id", "response-time", "signature", "content-type"):
        if name not in reply.headers:
            return f"no {name} header"
    content = signing_content(
        method,
        ENDPOINT_PATH,
        reply.headers["client-id"],
        reply.headers["response-time"],
        reply.body,
    )
    signature = parse_signature_header(reply.headers["signature"]).signature
    if not verify(content, signature, key or platform_key().public_key()):
        return "the answer's signature does not verify with the platform key"
    return None
