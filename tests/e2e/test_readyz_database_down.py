"""``/readyz`` of a real server while its PostgreSQL goes away and comes back.

The database is reached through a TCP relay the test can cut, as a network partition or a
stopped database server would."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from asap_sync.storage.engine import make_engine
from tests.e2e.conftest import free_port, start_server
from tests.kit import register

pytestmark = pytest.mark.e2e


class Relay:
    """Forwards connections from a local port to the database; ``cut`` drops them all."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream, self.port = upstream, free_port()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            everything = [self._listener, *self._sockets]
            self._sockets, self._listener = [], None
        for sock in everything:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                server = socket.create_connection(self.upstream)
            except OSError:
                return
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.close()


@pytest.fixture
def relay(database_url: str) -> Iterator[Relay]:
    """A registered merchant on the (emptied) PostgreSQL test database, and a relay to it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("an embedded SQLite database cannot go down under a running server")
    url = make_url(database_url)
    engine = make_engine(database_url)
    register(engine)
    engine.dispose()
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    relay.start()
    yield relay
    relay.cut()


def readyz(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30)


def test_readyz_is_503_with_the_reason_while_the_database_is_down_and_200_once_back(
    relay: Relay, database_url: str, tmp_path: Path
) -> None:
    relayed = make_url(database_url).set(host="127.0.0.1", port=relay.port)
    process, port = start_server(relayed.render_as_string(hide_password=False), tmp_path, workers=1)
    try:
        assert readyz(port).status_code == 200
        relay.cut()
        down = readyz(port)
        assert down.status_code == 503
        checks = down.json()["checks"]
        assert checks["database"].startswith("unreachable: "), checks
        assert checks["schema"] == checks["platform_key"] == "skipped"
        assert httpx.get(f"http://127.0.0.1:{port}/livez").status_code == 200
        relay.start()
        deadline = time.monotonic() + 30
        while readyz(port).status_code != 200:
            assert time.monotonic() < deadline, "still not ready 30 s after the database came back"
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=15)
