"""What the merchant-side commands share: connection options, input checks, the client."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from asap_sync import wire
from asap_sync.cli.conventions import bad_input, checked_base_url
from asap_sync.client import Client, RetryPolicy

BaseUrl = Annotated[
    str,
    typer.Option(
        "--base-url",
        envvar="ASAP_SYNC_BASE_URL",
        help="The platform's base URL, scheme and host only: https://asap.example.com.",
        show_default=False,
    ),
]
ClientId = Annotated[
    str,
    typer.Option(
        "--client-id", envvar="ASAP_SYNC_CLIENT_ID", help="Your Client-Id.", show_default=False
    ),
]
PrivateKey = Annotated[
    Path,
    typer.Option(
        "--private-key",
        envvar="ASAP_SYNC_PRIVATE_KEY",
        help="Your private key file (PEM or base64).",
        show_default=False,
    ),
]
PlatformKey = Annotated[
    str,
    typer.Option(
        "--platform-public-key",
        envvar="ASAP_SYNC_PLATFORM_PUBLIC_KEY",
        help="The platform's public key: a file (PEM or base64), or the one-line base64 itself.",
        show_default=False,
    ),
]
KeyVersion = Annotated[
    str,
    typer.Option("--key-version", envvar="ASAP_SYNC_KEY_VERSION", help="Your key's version."),
]
Attempts = Annotated[int, typer.Option("--max-attempts", min=1, help="Tries per sync.")]
Timeout = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per attempt.")]

_KEY_TEXT = re.compile(r"[A-Za-z0-9+/=\s]{200,}")


def key_text(value: str) -> str:
    """The platform key: a file's content, or the key itself; a mistyped path is an error."""
    path = Path(value)
    if _is_file(path):
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            bad_input(f"cannot read --platform-public-key file {value}: {exc}")
    if "-----BEGIN" in value or _KEY_TEXT.fullmatch(value):
        return value
    bad_input(
        f"--platform-public-key {value!r}: no such file, and not a key either (give a PEM or "
        "base64 file, or the one-line base64 key itself)"
    )


def _is_file(path: Path) -> bool:
    """Whether a file is there; a value that cannot be a path (a one-line base64 key with a run
    of over 255 characters without ``/`` is "File name too long") is not one."""
    try:
        return path.is_file()
    except OSError:
        return False


def _private_key(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        bad_input(f"cannot read --private-key {path}: {exc.strerror}")
    try:
        wire.load_private_key(data)
    except ValueError as exc:
        bad_input(f"--private-key {path} is not a usable private key: {exc}")
    return data


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
    """The SDK client, every input checked before anything is sent."""
    url = checked_base_url(base_url)
    secret = _private_key(private_key)
    public = key_text(platform_key)
    try:
        wire.load_public_key(public)
    except ValueError as exc:
        bad_input(f"--platform-public-key is not a usable public key: {exc}")
    try:
        return Client(
            url,
            client_id=client_id,
            private_key=secret,
            platform_public_key=public,
            key_version=key_version,
            timeout=timeout,
            retry=RetryPolicy(max_attempts=attempts),
        )
    except (OSError, ValueError) as exc:
        bad_input(f"cannot set up the client: {exc}")
