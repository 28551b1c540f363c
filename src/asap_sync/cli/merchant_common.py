"""What the merchant commands share: exit statuses, options, output consoles, the client."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from asap_sync.client import Client, RetryPolicy

console = Console()
errors = Console(stderr=True)


class Exit(enum.IntEnum):
    OK = 0
    REJECTED = 1
    BAD_INPUT = 2
    TRANSPORT = 3
    BAD_ANSWER = 4
    INTERRUPTED = 130


BaseUrl = Annotated[
    str, typer.Option("--base-url", envvar="ASAP_SYNC_BASE_URL", help="Platform URL.")
]
ClientId = Annotated[str, typer.Option("--client-id", envvar="ASAP_SYNC_CLIENT_ID")]
PrivateKey = Annotated[
    Path,
    typer.Option(
        "--private-key", envvar="ASAP_SYNC_PRIVATE_KEY", help="Your private key file (PEM/base64)."
    ),
]
PlatformKey = Annotated[
    str,
    typer.Option(
        "--platform-public-key",
        envvar="ASAP_SYNC_PLATFORM_PUBLIC_KEY",
        help="The platform's public key: a file, or the one-line base64 itself.",
    ),
]
KeyVersion = Annotated[str, typer.Option("--key-version", envvar="ASAP_SYNC_KEY_VERSION")]
Attempts = Annotated[int, typer.Option("--max-attempts", min=1, help="Tries per sync.")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds per attempt.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def key_text(value: str) -> str:
    try:
        return Path(value).read_text(encoding="utf-8")
    except OSError:  # not a readable file: the key itself
        return value


def make_client(
    base_url: str,
    client_id: str,
    private_key: Path,
    platform_key: str,
    key_version: str,
    *,
    attempts: int,
    timeout: float,
) -> Client:
    try:
        return Client(
            base_url,
            client_id=client_id,
            private_key=private_key.read_bytes(),
            platform_public_key=key_text(platform_key),
            key_version=key_version,
            timeout=timeout,
            retry=RetryPolicy(max_attempts=attempts),
        )
    except (OSError, ValueError) as exc:
        errors.print(f"[red]cannot set up the client:[/red] {exc}")
        raise typer.Exit(Exit.BAD_INPUT) from exc
