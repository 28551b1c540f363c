"""``asap-sync health``: is a server ready to take syncs (GET /readyz: its database reachable,
its schema current, the platform key loaded)?"""

from __future__ import annotations

import time
from typing import Annotated

import httpx
import typer

from asap_sync.cli.conventions import Exit, JsonOption, checked_base_url, fail, print_json
from asap_sync.config import Settings

DEFAULT_URL = "http://127.0.0.1:8080"


def _default_url() -> str:
    try:
        settings = Settings.from_env()
    except ValueError:
        return DEFAULT_URL
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def _probe(url: str) -> str | None:
    """None when ready, else why not (the server's own reasons when it gives them)."""
    try:
        answer = httpx.get(f"{url}/readyz", timeout=5.0)
    except httpx.HTTPError as exc:
        return f"no answer from {url}: {exc}"
    if answer.status_code == 200:
        return None
    try:
        checks = answer.json().get("checks", {})
        reasons = "; ".join(f"{name}: {why}" for name, why in checks.items() if why != "ok")
    except (ValueError, AttributeError):
        reasons = ""
    return f"{url}/readyz answered HTTP {answer.status_code}" + (f" ({reasons})" if reasons else "")


def health(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The server's base URL.",
            show_default="http://127.0.0.1:<ASAP_SYNC_PORT or 8080>",
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, help="Seconds to keep trying until the server is ready (0: once)."
        ),
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """Check that a server is ready (GET /readyz: database, schema, platform key); exit 3 if not.

    `asap-sync health --wait 60` after starting `asap-sync serve &` waits until it is ready.
    """
    base = checked_base_url(url or _default_url(), "--url")
    deadline = time.monotonic() + wait
    problem = _probe(base)
    while problem is not None and time.monotonic() < deadline:
        time.sleep(0.25)
        problem = _probe(base)
    if problem is not None:
        fail(problem, Exit.TRANSPORT)
    if as_json:
        print_json({"url": base, "healthy": True})
    else:
        typer.echo(f"{base} is ready.")
