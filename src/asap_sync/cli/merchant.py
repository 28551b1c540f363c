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

import enum
import json
import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from asap_sync import wire
from asap_sync.client import (
    ALREADY_SUCCEEDED,
    INVALID_ROW,
    MAPPINGS,
    Client,
    FileFormat,
    InvalidSyncError,
    MalformedResponseError,
    Outcome,
    ReconcileReport,
    ResponseSignatureError,
    ResultsFile,
    RetryPolicy,
    SyncError,
    TransportError,
    bulk_send,
    count_rows,
    describe_code,
    read_rows,
    reconcile,
    row_from_mapping,
)

app = typer.Typer(
    help="Merchant and ISV tools: keys, send, bulk send, reconcile.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)


class InputFormat(enum.StrEnum):
    jsonl = "jsonl"
    csv = "csv"


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


def _key_text(value: str) -> str:
    try:
        return Path(value).read_text(encoding="utf-8")
    except OSError:  # not a readable file: the key itself
        return value


def _client(
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
            platform_public_key=_key_text(platform_key),
            key_version=key_version,
            timeout=timeout,
            retry=RetryPolicy(max_attempts=attempts),
        )
    except (OSError, ValueError) as exc:
        errors.print(f"[red]cannot set up the client:[/red] {exc}")
        raise typer.Exit(Exit.BAD_INPUT) from exc


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


@app.command()
def send(
    base_url: BaseUrl,
    client_id: ClientId,
    private_key: PrivateKey,
    platform_public_key: PlatformKey,
    file: Annotated[
        Path | None, typer.Argument(help="A JSON body (wire field names); flags override it.")
    ] = None,
    key_version: KeyVersion = "1",
    merchant_id: Annotated[str | None, typer.Option("--merchant-id")] = None,
    out_trans_id: Annotated[str | None, typer.Option("--out-trans-id")] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Default: the outTransId.")
    ] = None,
    trans_date: Annotated[
        str | None, typer.Option("--trans-date", help="ISO 8601 with offset.")
    ] = None,
    entity_type: Annotated[str | None, typer.Option("--entity-type")] = None,
    entity_id: Annotated[str | None, typer.Option("--entity-id")] = None,
    direction: Annotated[str | None, typer.Option("--direction", help="pay or refund.")] = None,
    origin_trans_id: Annotated[str | None, typer.Option("--origin-trans-id")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="Minor units: 24800.")] = None,
    amount_hkd: Annotated[str | None, typer.Option("--amount-hkd", help="HKD: 248.00.")] = None,
    goods: Annotated[
        list[str] | None, typer.Option("--goods", help="CODE:MINOR_UNITS[:NAME], repeatable.")
    ] = None,
    attempts: Attempts = 4,
    timeout: Timeout = 10.0,
    as_json: AsJson = False,
) -> None:
    """Send one sync and print the verified result; the exit status tells the outcome."""
    data = _load_body(file)
    flags = {
        "merchantId": merchant_id,
        "outTransId": out_trans_id,
        "requestId": request_id,
        "transDate": trans_date,
        "entityType": entity_type,
        "entityId": entity_id,
        "transDirection": direction,
        "originTransId": origin_trans_id,
        "tradeAmt": amount,
        "tradeAmtHkd": amount_hkd,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    data.update(_goods_flags(goods or []))
    row = row_from_mapping(0, data)
    if row.request is None:
        _report({"code": InvalidSyncError.code, "context": row.error}, as_json)
        raise typer.Exit(Exit.BAD_INPUT)
    with _client(
        base_url,
        client_id,
        private_key,
        platform_public_key,
        key_version,
        attempts=attempts,
        timeout=timeout,
    ) as client:
        status = _send_and_report(client, row.request, as_json)
    raise typer.Exit(status)


def _load_body(file: Path | None) -> dict[str, Any]:
    if file is None:
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        errors.print(f"[red]cannot read {file}:[/red] {exc}")
        raise typer.Exit(Exit.BAD_INPUT) from exc
    if not isinstance(data, dict):
        errors.print(f"[red]{file} must hold one JSON object[/red]")
        raise typer.Exit(Exit.BAD_INPUT)
    return data


def _goods_flags(specs: list[str]) -> dict[str, str]:
    columns: dict[str, str] = {}
    for n, spec in enumerate(specs, start=1):
        code, _, rest = spec.partition(":")
        price, _, name = rest.partition(":")
        columns.update({f"goods{n}_code": code, f"goods{n}_price": price, f"goods{n}_name": name})
    return columns


def _send_and_report(client: Client, request: wire.SyncRequest, as_json: bool) -> Exit:
    try:
        response = client.sync(request)
    except SyncError as exc:
        _report({**exc.to_dict(), "outTransId": request.out_trans_id}, as_json)
        return _exit_for(exc)
    _report(response.to_dict(), as_json)
    return Exit.OK


def _exit_for(exc: SyncError) -> Exit:
    if isinstance(exc, ResponseSignatureError | MalformedResponseError):
        return Exit.BAD_ANSWER
    if isinstance(exc, TransportError):
        return Exit.TRANSPORT
    return Exit.REJECTED


def _report(payload: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(payload, ensure_ascii=False))
        return
    style = "green" if payload["code"] == "SUCCESS" else "red"
    console.print(f"[{style}]{payload['code']}[/{style}]")
    for key, value in payload.items():
        if key != "code" and value is not None:
            console.print(f"  {key}: {value}")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


@app.command("bulk-send")
def bulk_send_command(
    base_url: BaseUrl,
    client_id: ClientId,
    private_key: PrivateKey,
    platform_public_key: PlatformKey,
    input_file: Annotated[
        Path, typer.Argument(help="JSONL or CSV of transactions.", exists=True, dir_okay=False)
    ],
    key_version: KeyVersion = "1",
    results: Annotated[
        Path | None, typer.Option("--results", help="Default: <input>.results.jsonl")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=100)] = 8,
    file_format: Annotated[
        InputFormat | None, typer.Option("--format", help="Default: by file extension.")
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    attempts: Attempts = 4,
    timeout: Timeout = 10.0,
) -> None:
    """Send a file of transactions; re-run with the same arguments to resume."""
    fmt: FileFormat | None = None if file_format is None else file_format.value
    results_path = results or input_file.with_name(input_file.name + ".results.jsonl")
    total = count_rows(input_file, fmt)
    with (
        _client(
            base_url,
            client_id,
            private_key,
            platform_public_key,
            key_version,
            attempts=attempts,
            timeout=timeout,
        ) as client,
        _progress_bar(enabled=progress) as bar,
    ):
        task = bar.add_task("sending", total=total)

        def on_outcome(outcome: Outcome) -> None:
            bar.advance(task)
            if outcome.code == INVALID_ROW:
                bar.console.print(f"[yellow]line {outcome.line}:[/yellow] {outcome.context}")

        report = bulk_send(
            client,
            read_rows(input_file, fmt),
            results=ResultsFile(results_path),
            concurrency=concurrency,
            on_outcome=on_outcome,
        )
    console.print(_summary_table(report.counts))
    console.print(f"Results: {results_path}")
    raise typer.Exit(_bulk_exit(report.counts, interrupted=report.interrupted))


def _progress_bar(*, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=errors,
        disable=not enabled,
    )


def _summary_table(counts: Counter[str]) -> Table:
    table = Table(title="Bulk send summary")
    table.add_column("result")
    table.add_column("rows", justify="right")
    table.add_column("meaning")
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(code, str(count), describe_code(code))
    table.add_row("total", str(sum(counts.values())), "")
    return table


def _bulk_exit(counts: Counter[str], *, interrupted: bool) -> Exit:
    if interrupted:
        return Exit.INTERRUPTED
    if counts.keys() & {TransportError.code, "UNEXPECTED_ERROR"}:
        return Exit.TRANSPORT
    if counts.keys() & {ResponseSignatureError.code, MalformedResponseError.code}:
        return Exit.BAD_ANSWER
    if set(counts) - {"SUCCESS", ALREADY_SUCCEEDED}:
        return Exit.REJECTED
    return Exit.OK


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
