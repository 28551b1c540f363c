"""``asap-sync merchant-side bulk-send``: a file of transactions, progress, summary and resume."""

from __future__ import annotations

import enum
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
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

from asap_sync.cli.conventions import DataKeys, Exit, JsonOption, fail, plural, print_json
from asap_sync.cli.display import console, is_terminal
from asap_sync.cli.merchant_common import (
    Attempts,
    BaseUrl,
    ClientId,
    KeyVersion,
    PlatformKey,
    PrivateKey,
    Timeout,
    make_client,
)
from asap_sync.client import (
    ALREADY_SUCCEEDED,
    INVALID_ROW,
    FileFormat,
    MalformedResponseError,
    Outcome,
    ResponseSignatureError,
    ResultsFile,
    TransportError,
    bulk_send,
    count_rows,
    describe_code,
    read_rows,
)


class InputFormat(enum.StrEnum):
    jsonl = "jsonl"
    csv = "csv"


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


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
        Path | None,
        typer.Option(
            "--results",
            help="Results file (one JSON line per row).",
            show_default="<input>.results.jsonl",
            dir_okay=False,
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=100, help="Syncs in flight.")
    ] = 8,
    file_format: Annotated[
        InputFormat | None,
        typer.Option("--format", help="jsonl or csv.", show_default="by file extension"),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Draw a progress bar on stderr.",
            show_default="only on a terminal",
        ),
    ] = None,
    attempts: Attempts = 4,
    timeout: Timeout = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Send a file of transactions; re-run with the same arguments to resume."""
    fmt: FileFormat | None = None if file_format is None else file_format.value
    results_path = results or input_file.with_name(input_file.name + ".results.jsonl")
    show_progress = is_terminal(sys.stderr) if progress is None else progress
    total = count_rows(input_file, fmt)
    with (
        make_client(
            base_url,
            client_id,
            private_key,
            platform_public_key,
            key_version,
            attempts=attempts,
            timeout=timeout,
        ) as client,
        _progress_bar(enabled=show_progress) as bar,
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
    status = _bulk_exit(report.counts, interrupted=report.interrupted)
    total = sum(report.counts.values())
    summary = {
        "total": total,
        "counts": DataKeys(report.counts),
        "interrupted": report.interrupted,
        "resultsFile": str(results_path),
    }
    if as_json and status is Exit.OK:
        print_json(summary)
    elif not as_json:
        console().print(_summary_table(report.counts))
        console().print(f"Results: {results_path}", markup=False, highlight=False)
    if status is not Exit.OK:
        failed = total - report.counts.get("SUCCESS", 0)
        failed -= report.counts.get(ALREADY_SUCCEEDED, 0)
        what = "interrupted" if report.interrupted else f"{plural(failed, 'row')} did not succeed"
        fail(f"bulk send {what}; see {results_path} (re-run to resume)", status, summary)


def _progress_bar(*, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console(stderr=True),
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
        return Exit.REFUSED
    return Exit.OK
