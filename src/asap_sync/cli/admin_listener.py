"""The admin listener of ``asap-sync serve``: the console and ``/metrics`` on their own address.

It runs in the serving command's own process, beside the public listener's workers, so the
console keeps one set of sessions and login counters whatever the number of workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import typer
import uvicorn

from asap_sync.bootstrap import build_admin_app
from asap_sync.config import Settings
from asap_sync.logs import logging_config
from asap_sync.service.admin_ports import AdminError

START_TIMEOUT_SECONDS = 15.0


class AdminListenerFailed(AdminError):
    """The admin listener could not start (most often: its port is taken)."""


@contextmanager
def admin_listener(settings: Settings, *, required: bool = True) -> Iterator[str | None]:
    """Serve the admin app while the block runs; yields its URL, or None when turned off.

    A listener that cannot start is an error when ``required`` (its port was chosen); on the
    default port it is a warning, and the public listener serves alone.
    """
    if not settings.admin_enabled:
        yield None
        return
    config = uvicorn.Config(
        build_admin_app(settings),
        host=settings.admin_host,
        port=settings.admin_port,
        log_config=logging_config(settings.log_format, settings.log_level),
        log_level=settings.log_level.lower(),
        access_log=settings.log_level.lower() == "debug",
        lifespan="on",  # the console fills its day summaries as it starts
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="asap-sync-admin", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        thread.join(timeout=10)
        problem = (
            f"the admin listener could not start on {settings.admin_host}:{settings.admin_port} "
            "(port in use? choose another with --admin-port, or --no-admin)"
        )
        if required:
            raise AdminListenerFailed(problem)
        typer.echo(f"warning: {problem}; serving without the console", err=True)
        yield None
        return
    port = server.servers[0].sockets[0].getsockname()[1] if server.servers else settings.admin_port
    try:
        yield f"http://{settings.admin_host}:{port}/console/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
