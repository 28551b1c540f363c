"""Merchant commands: key generation, send, bulk send, reconcile.

Exit statuses (documented in docs/merchant-guide.md):

    0   success (bulk: every row succeeded now or in an earlier run; reconcile: files agree)
    1   rejected by the platform (a signed errorCode), bad rows, or reconcile differences
    2   bad input or usage: the sync breaks a rule before anything is sent
    3   transport failure: no trustworthy answer after the retries (safe to re-run)
    4   the answer was unsigned, badly signed or malformed
    130 interrupted (bulk: results so far are flushed; re-run to resume)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from asap_sync import wire
from asap_sync.cli.merchant_bulk import bulk_send_command
from asap_sync.cli.merchant_common import AsJson, Exit, console, errors
from asap_sync.cli.merchant_send import send
from asap_sync.client import MAPPINGS, ReconcileReport, reconcile

app = typer.Typer(
    help="Merchant and ISV tools: keys, send, bulk send, reconcile.", no_args_is_help=True
)
app.command("send")(send)
app.command("bulk-send")(bulk_send_command)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Private key file to create.")] = Path(
        "merchant-private.pem"
    ),
    public_out: Annotated[
        Path | None, typer.Option("--public-out", help="Also write the public PEM here.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Create an RSA-2048 key pair; the private key file is readable by you only (0600)."""
    key = wire.generate_private_key()
    try:
        _write_private(out, wire.private_key_pem(key), force=force)
    except FileExistsError as exc:
        errors.print(f"[red]{out} exists[/red]; use --force to overwrite it")
        raise typer.Exit(Exit.BAD_INPUT) from exc
    public = key.public_key()
    if public_out is not None:
        public_out.write_text(wire.public_key_pem(public), encoding="ascii")
    console.print(f"Private key written to {out} (mode 0600). Keep it secret.")
    console.print("\nPublic key, one-line base64 (register this with the platform):")
    print(wire.public_key_base64(public))
    console.print("\nPublic key, PEM:")
    print(wire.public_key_pem(public), end="")


def _write_private(path: Path, pem: str, *, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), 0o600)  # O_CREAT's mode does not apply to an existing file
        handle.write(pem)


@app.command("reconcile")
def reconcile_command(
    merchant_file: Annotated[
        Path, typer.Argument(help="Your transactions: CSV, JSONL, JSON.", exists=True)
    ],
    platform_file: Annotated[Path, typer.Argument(help="The platform's export.", exists=True)],
    platform_format: Annotated[
        str, typer.Option("--platform-format", help=f"One of: {', '.join(MAPPINGS)}.")
    ] = "transactions",
    merchant_format: Annotated[str, typer.Option("--merchant-format")] = "transactions",
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows listed per section.")] = 20,
) -> None:
    """Compare your own transactions with the platform's export; exit 1 if they differ."""
    for name in (platform_format, merchant_format):
        if name not in MAPPINGS:
            errors.print(f"[red]unknown format {name!r}[/red]; one of {', '.join(MAPPINGS)}")
            raise typer.Exit(Exit.BAD_INPUT)
    report = reconcile(
        merchant_file,
        platform_file,
        merchant_mapping=MAPPINGS[merchant_format],
        platform_mapping=MAPPINGS[platform_format],
    )
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_reconcile(report, limit)
    raise typer.Exit(Exit.OK if report.clean else Exit.REJECTED)


def _print_reconcile(report: ReconcileReport, limit: int) -> None:
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
    console.print(table)
    for title, lines in sections:
        if lines:
            console.print(f"\n[bold]{title}[/bold]")
            for text in lines[:limit]:
                console.print(f"  {text}", markup=False)
            if len(lines) > limit:
                console.print(f"  ... and {len(lines) - limit} more (use --json for all)")
