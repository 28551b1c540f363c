"""Merchant-side commands (``asap-sync merchant-side``): keys, send, bulk send, reconcile.

These run at the merchant or ISV, against a platform over HTTP. Exit statuses are those of
the whole tool (docs/cli.md); docs/merchant-guide.md says what each means for these commands.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from asap_sync import wire
from asap_sync.cli.conventions import JsonOption, bad_input, fail, new_app, print_json
from asap_sync.cli.display import console
from asap_sync.cli.merchant_bulk import bulk_send_command
from asap_sync.cli.merchant_send import send
from asap_sync.client import MAPPINGS, ColumnMapping, ReconcileReport, detect_mapping, reconcile

app = new_app("Merchant-side tools (run by a merchant or ISV): keys, send, bulk send, reconcile.")
app.command("send")(send)
app.command("bulk-send")(bulk_send_command)

AUTO = "auto"


@app.command()
def keygen(
    out: Annotated[
        Path, typer.Option("--out", help="Private key file to create.", dir_okay=False)
    ] = Path("merchant-private.pem"),
    public_out: Annotated[
        Path | None,
        typer.Option(
            "--public-out", help="Also write the public PEM here.", show_default="not written"
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create an RSA-2048 key pair; the private key file is readable by you only (0600)."""
    key = wire.generate_private_key()
    try:
        _write_private(out, wire.private_key_pem(key), force=force)
    except FileExistsError:
        bad_input(f"{out} exists; use --force to overwrite it")
    except OSError as exc:
        bad_input(f"cannot write {out}: {exc.strerror}")
    warn_if_tracked(out)
    public = key.public_key()
    if public_out is not None:
        public_out.write_text(wire.public_key_pem(public), encoding="ascii")
    if as_json:
        print_json(
            {
                "privateKeyFile": str(out),
                "publicKeyFile": None if public_out is None else str(public_out),
                "publicKeyBase64": wire.public_key_base64(public),
                "publicKeyPem": wire.public_key_pem(public),
            }
        )
        return
    typer.echo(f"Private key written to {out} (mode 0600). Keep it secret.")
    typer.echo("\nPublic key, one-line base64 (register this with the platform):")
    typer.echo(wire.public_key_base64(public))
    typer.echo("\nPublic key, PEM:")
    typer.echo(wire.public_key_pem(public), nl=False)


def _write_private(path: Path, pem: str, *, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), 0o600)  # O_CREAT's mode does not apply to an existing file
        handle.write(pem)


def warn_if_tracked(path: Path) -> None:
    """Warn on stderr when a private key lands in a git work tree and git does not ignore it."""
    folder = path.resolve().parent
    if not any((p / ".git").exists() for p in (folder, *folder.parents)):
        return
    try:
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(path.resolve())],
            cwd=folder,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        ignored = None
    if ignored is not None and ignored.returncode == 0:
        return
    typer.echo(
        f"warning: {path} is a private key inside a git work tree and git does not ignore it: "
        "never commit it (add it to .gitignore, or keep keys outside the repository)",
        err=True,
    )


FORMATS = ", ".join([AUTO, *MAPPINGS])


@app.command("reconcile")
def reconcile_command(
    merchant_file: Annotated[
        Path,
        typer.Argument(
            help="Your transactions: CSV, JSONL, JSON.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    platform_file: Annotated[
        Path,
        typer.Argument(
            help="The platform's export.", exists=True, dir_okay=False, show_default=False
        ),
    ],
    platform_format: Annotated[
        str,
        typer.Option(
            "--platform-format", help=f"One of: {FORMATS} (auto: from the file's columns)."
        ),
    ] = AUTO,
    merchant_format: Annotated[
        str, typer.Option("--merchant-format", help=f"One of: {FORMATS}.")
    ] = AUTO,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows listed per section.", min=1)] = 20,
) -> None:
    """Compare your own transactions with the platform's export; exit 1 if they differ."""
    for name in (platform_format, merchant_format):
        if name != AUTO and name not in MAPPINGS:
            bad_input(f"unknown format {name!r}: one of {FORMATS}")
    report = reconcile(
        merchant_file,
        platform_file,
        merchant_mapping=_mapping(merchant_format, merchant_file),
        platform_mapping=_mapping(platform_format, platform_file),
    )
    if not as_json:
        _print_reconcile(report, limit)
    elif report.clean:
        print_json(report.to_dict())
    if not report.clean:
        fail("the files differ (see the report)", result=report.to_dict())


def _mapping(name: str, path: Path) -> ColumnMapping:
    return detect_mapping(path) if name == AUTO else MAPPINGS[name]


def _print_reconcile(report: ReconcileReport, limit: int) -> None:
    out = console()
    table = Table(title="Reconciliation")
    table.add_column("")
    table.add_column("count", justify="right")
    sections: list[tuple[str, list[str]]] = [
        ("missing on the platform", [e.describe() for e in report.missing_on_platform]),
        ("missing in your file", [e.describe() for e in report.missing_in_merchant_file]),
        ("differences", [d.describe() for d in report.differences]),
        ("duplicates", report.duplicates),
        ("unreadable lines", report.unreadable),
    ]
    table.add_row("matched", str(report.matched))
    for title, lines in sections:
        table.add_row(title, str(len(lines)))
    out.print(table)
    for title, lines in sections:
        if lines:
            out.print(f"\n[bold]{title}[/bold]")
            for text in lines[:limit]:
                out.print(f"  {text}", markup=False, highlight=False)
            if len(lines) > limit:
                out.print(f"  ... and {len(lines) - limit} more (use --json for all)")
