"""Operator commands of settlement: ``periods``, ``statements`` and ``audit``."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from asap_sync.bootstrap import engine_for, system_clock
from asap_sync.cli.operator_accounts import log_change
from asap_sync.config import Settings
from asap_sync.domain.model import SyncCommand
from asap_sync.domain.money import format_e4_hkd, format_minor_hkd
from asap_sync.domain.settlement import SettlementRefused, parse_period
from asap_sync.service import exports
from asap_sync.service.audit import AuditReport, audit
from asap_sync.service.settlement import assign_period, close_period
from asap_sync.service.sync_command import to_command
from asap_sync.storage.audit_queries import audit_queries
from asap_sync.storage.migrate import SchemaOutOfDate, check_up_to_date
from asap_sync.storage.settlement import SqlSettlementUnitOfWork
from asap_sync.storage.statement_queries import statement_queries
from asap_sync.wire import parse_sync_body

periods_app = typer.Typer(help="Settlement periods: close, assign, list.", no_args_is_help=True)
statements_app = typer.Typer(
    help="Statements: list, show, export, totals per merchant.", no_args_is_help=True
)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="ASAP_SYNC_DATA_DIR", help="Data directory (SQLite)."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="ASAP_SYNC_DATABASE_URL", help="Database URL."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PeriodArg = Annotated[str, typer.Argument(help="The month, YYYY-MM.")]


class Format(StrEnum):
    """Export formats."""

    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add the settlement commands to the ``asap-sync`` entry point."""
    app.add_typer(periods_app, name="periods")
    app.add_typer(statements_app, name="statements")
    app.command("audit")(audit_command)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def _engine(data_dir: Path | None, database_url: str | None) -> Iterator[tuple[Engine, Settings]]:
    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    engine = engine_for(settings)
    try:
        check_up_to_date(engine)
        yield engine, settings
    except (SchemaOutOfDate, SettlementRefused, exports.StatementNotFound) as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        _fail(f"database error: {str(cause).strip().splitlines()[0]}")
    finally:
        engine.dispose()


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


@periods_app.command("close")
def close_command(
    period: PeriodArg,
    allow_open_month: Annotated[
        bool, typer.Option("--allow-open-month", help="Close the current month anyway.")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Close a period: PENDING → PROCESSING, one sealed statement per merchant. Re-runnable."""
    with _engine(data_dir, database_url) as (engine, settings):
        report = close_period(
            lambda: SqlSettlementUnitOfWork(engine),
            period=parse_period(period),
            now=system_clock(),
            zone=ZoneInfo(settings.timezone),
            allow_open_month=allow_open_month,
        )
        after = {"status": report.status.value, "statements": report.statement_count}
        log_change(engine, "period.close", report.period, after=after)
    if as_json:
        _print_json(dataclasses.asdict(report))
        return
    verb = "was already" if report.already_done else "is now"
    typer.echo(
        f"period {report.period} {verb} {report.status.value}: {report.statement_count} "
        f"statements, {report.transaction_count} transactions (this run: "
        f"{report.statements_created} statements, {report.transactions_settled} transactions)"
    )


@periods_app.command("assign")
def assign_command(
    period: PeriodArg,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Assign a closed period: its transactions PROCESSING → ASSIGNED. Re-runnable."""
    with _engine(data_dir, database_url) as (engine, _settings):
        report = assign_period(
            lambda: SqlSettlementUnitOfWork(engine), period=parse_period(period), now=system_clock()
        )
        after = {"status": "ASSIGNED", "statements": report.statements_assigned}
        log_change(engine, "period.assign", report.period, after=after)
    if as_json:
        _print_json(dataclasses.asdict(report))
        return
    typer.echo(
        f"period {report.period} is ASSIGNED"
        + (" (already)" if report.already_done else "")
        + f": {report.statements_assigned} statements, "
        f"{report.transactions_assigned} transactions in this run"
    )


@periods_app.command("list")
def list_periods_command(
    as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Every period with its status, statements and transactions still PENDING."""
    with _engine(data_dir, database_url) as (engine, _settings), statement_queries(engine) as q:
        infos = list(q.periods())
    if as_json:
        _print_json([dataclasses.asdict(i) for i in infos])
        return
    _table(
        "Settlement periods",
        ["period", "status", "statements", "transactions", "pending", "closed at"],
        [
            [
                i.period,
                i.status.value,
                i.statement_count,
                i.transaction_count,
                i.pending_count,
                i.closed_at,
            ]
            for i in infos
        ],
    )


@statements_app.command("list")
def list_statements_command(
    period: Annotated[str | None, typer.Option(help="Only this period.")] = None,
    merchant: Annotated[str | None, typer.Option(help="Only this merchant.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Statements, by period then merchant."""
    with _engine(data_dir, database_url) as (engine, _settings), statement_queries(engine) as q:
        found = list(q.statements(period=period, merchant_id=merchant))
    if as_json:
        _print_json([exports.statement_fields(s) for s in found])
        return
    _table(
        "Statements",
        ["id", "period", "merchant", "status", "transactions", "lines", "gross HKD", "HKD"],
        [
            [
                s.statement_id,
                s.period,
                s.merchant_id,
                s.status.value,
                s.totals.transaction_count,
                s.line_count,
                format_minor_hkd(s.totals.gross_minor),
                format_minor_hkd(s.commission_minor),
            ]
            for s in found
        ],
    )


@statements_app.command("show")
def show_statement_command(
    statement_id: Annotated[int, typer.Argument(help="The statement id.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """One statement with its lines."""
    with _engine(data_dir, database_url) as (engine, _settings), statement_queries(engine) as q:
        if as_json:
            exports.write_statement_json(q, statement_id, sys.stdout)
            return
        statement = q.statement(statement_id)
        if statement is None:
            _fail(f"no statement {statement_id}")
        fields = exports.statement_fields(statement)
        for key in ("statementId", "period", "merchantId", "status", "contentHash"):
            typer.echo(f"{key}: {fields[key]}")
        typer.echo(
            f"transactions: {statement.totals.transaction_count} (gross "
            f"{fields['grossHkd']}, refunded {fields['refundedHkd']}) - commission "
            f"{fields['commissionExactHkd']} exact, {fields['commissionHkd']} HKD rounded"
        )
        _table(
            f"Lines of statement {statement_id}",
            ["line", "transaction", "dir", "goods", "rule", "base HKD", "commission HKD", "rev"],
            [
                [
                    line.line_id,
                    line.out_trans_id,
                    line.direction,
                    line.goods_code,
                    f"{line.rule_kind} {line.rule_value}",
                    format_minor_hkd(line.base_minor),
                    format_e4_hkd(line.commission_e4),
                    line.reverses_line_id,
                ]
                for line in q.lines(statement_id)
            ],
        )


@statements_app.command("export")
def export_command(
    statement: Annotated[int | None, typer.Option(help="Export this statement.")] = None,
    period: Annotated[str | None, typer.Option(help="Export every statement of a period.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="csv or json.")] = Format.csv,
    output: Annotated[Path | None, typer.Option(help="File to write (default stdout).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export a statement or a period, CSV or JSON (columns: docs/statements.md)."""
    if (statement is None) == (period is None):
        _fail("give exactly one of --statement and --period")
    with (
        _engine(data_dir, database_url) as (engine, _settings),
        statement_queries(engine) as q,
        _open(output) as out,
    ):
        _export(q, statement, period, fmt, out)


@contextmanager
def _open(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8", newline="") as out:
        yield out


def _export(q: Any, statement: int | None, period: str | None, fmt: Format, out: TextIO) -> None:
    if statement is not None:
        if fmt is Format.csv:
            exports.write_statement_csv(q, statement, out)
        else:
            exports.write_statement_json(q, statement, out)
        return
    assert period is not None
    if fmt is Format.csv:
        exports.write_period_csv(q, parse_period(period), out)
    else:
        exports.write_period_json(q, parse_period(period), out)


@statements_app.command("totals")
def totals_command(
    merchant: Annotated[str | None, typer.Option(help="Only this merchant.")] = None,
    first: Annotated[str | None, typer.Option("--from", help="First period, YYYY-MM.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last period, YYYY-MM.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Per-merchant totals over a range of periods."""
    with _engine(data_dir, database_url) as (engine, _settings), statement_queries(engine) as q:
        rows = q.merchant_totals(
            merchant_id=merchant,
            first_period=parse_period(first) if first else None,
            last_period=parse_period(last) if last else None,
        )
    if as_json:
        _print_json(
            [
                dataclasses.asdict(t)
                | {
                    "commissionHkd": format_minor_hkd(t.commission_minor),
                    "grossHkd": format_minor_hkd(t.gross_minor),
                }
                for t in rows
            ]
        )
        return
    _table(
        "Totals per merchant",
        ["merchant", "periods", "statements", "transactions", "gross HKD", "commission HKD"],
        [
            [
                t.merchant_id,
                f"{t.first_period}..{t.last_period}",
                t.statement_count,
                t.transaction_count,
                format_minor_hkd(t.gross_minor),
                format_minor_hkd(t.commission_minor),
            ]
            for t in rows
        ],
    )


def parse_body(raw: bytes, client_id: str) -> SyncCommand:
    """The endpoint's own parsing and normalisation of a raw body."""
    return to_command(parse_sync_body(raw), client_id)


def audit_command(
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option(help="Violations to list at most.")] = 1000,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Check every settlement invariant and re-verify every signed request; exit 1 on findings."""
    with _engine(data_dir, database_url) as (engine, _settings), audit_queries(engine) as q:
        report = audit(q, parse_body=parse_body, limit=limit)
    _print_audit(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


def _print_audit(report: AuditReport, as_json: bool) -> None:
    summary = {
        "ok": report.ok,
        "transactions": report.transactions,
        "statements": report.statements,
        "statementLines": report.statement_lines,
        "carriedForward": report.carried_forward,
        "violationCount": report.violation_count,
        "byCheck": dict(report.by_check),
        "violations": [v.as_dict() for v in report.violations],
    }
    if as_json:
        _print_json(summary)
        return
    for v in report.violations:
        typer.echo(f"{v.check}: {v.subject}: {v.detail}")
    verdict = "OK" if report.ok else f"{report.violation_count} VIOLATIONS"
    typer.echo(
        f"audit {verdict}: {report.transactions} transactions, {report.statements} statements, "
        f"{report.statement_lines} statement lines checked; {report.carried_forward} PENDING "
        "transactions of closed periods carried forward to the next close"
    )
