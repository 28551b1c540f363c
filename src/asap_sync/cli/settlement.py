"""Operator commands of settlement: ``periods``, ``statements`` and ``audit``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from asap_sync.bootstrap import system_clock
from asap_sync.cli.approvals import AsOption, PasswordStdinOption, proposed, signed_in
from asap_sync.cli.conventions import (
    DataKeys,
    Exit,
    JsonOption,
    fail,
    input_checks,
    new_app,
    plural,
    print_json,
)
from asap_sync.cli.display import print_table, show_time
from asap_sync.cli.operator_session import (
    DatabaseUrlOption,
    DataDirOption,
    Operator,
    locate_checked,
    open_located,
)
from asap_sync.domain.model import SyncCommand
from asap_sync.domain.money import format_e4_hkd, format_minor_hkd
from asap_sync.domain.settlement import InvalidPeriod, SettlementRefused, parse_period
from asap_sync.service import exports
from asap_sync.service.approval_ports import Proposal
from asap_sync.service.approvals import close_or_propose
from asap_sync.service.audit import AuditReport, audit
from asap_sync.service.settlement import assign_period
from asap_sync.service.sync_command import to_command
from asap_sync.storage.audit_queries import audit_queries
from asap_sync.storage.statement_queries import statement_queries
from asap_sync.wire import parse_sync_body

periods_app = new_app("Settlement periods: close, assign, list.")
statements_app = new_app("Statements: list, show, export, totals per merchant.")

PeriodArg = Annotated[str, typer.Argument(help="The month, YYYY-MM.", show_default=False)]
MerchantFilter = Annotated[
    str | None, typer.Option("--merchant-id", help="Only this merchant.", show_default="all")
]


class Format(StrEnum):
    """Export formats."""

    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add the settlement commands to the ``asap-sync`` entry point."""
    app.add_typer(periods_app, name="periods")
    app.add_typer(statements_app, name="statements")
    app.command("audit")(audit_command)


def _period(text: str | None) -> str | None:
    """A ``YYYY-MM`` option, checked before any work."""
    if text is None:
        return None
    with input_checks(InvalidPeriod):
        return parse_period(text)


@contextmanager
def _settlement(data_dir: Path | None, database_url: str | None) -> Iterator[Operator]:
    """The database, with the refusals of settlement as one-line errors."""
    with open_located(locate_checked(data_dir, database_url)) as op:
        try:
            yield op
        except (SettlementRefused, exports.StatementNotFound) as exc:
            fail(str(exc))


@periods_app.command("close")
def close_command(
    period: PeriodArg,
    allow_open_month: Annotated[
        bool, typer.Option("--allow-open-month", help="Close the current month anyway.")
    ] = False,
    who: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Close a period: PENDING → PROCESSING, one sealed statement per merchant. Re-runnable.

    With two-person approval on, this proposes the close instead (see `approvals`).
    """
    month = _period(period)
    assert month is not None
    with _settlement(data_dir, database_url) as op:
        op, role = signed_in(op, who, password_stdin)
        report = close_or_propose(
            op.settlement_units(),
            period=month,
            zone=op.zone,
            allow_open_month=allow_open_month,
            actor=op.actor,
            role=role,
        )
    if isinstance(report, Proposal):
        proposed(report, as_json)
        return
    if as_json:
        print_json(report)
        return
    verb = "was already" if report.already_done else "is now"
    typer.echo(
        f"Period {report.period} {verb} {report.status.value}: "
        f"{plural(report.statement_count, 'statement')}, "
        f"{plural(report.transaction_count, 'transaction')} (this run: "
        f"{plural(report.statements_created, 'statement')}, "
        f"{plural(report.transactions_settled, 'transaction')})."
    )


@periods_app.command("assign")
def assign_command(
    period: PeriodArg,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Assign a closed period: its transactions PROCESSING → ASSIGNED. Re-runnable."""
    month = _period(period)
    assert month is not None
    with _settlement(data_dir, database_url) as op:
        report = assign_period(op.settlement_units(), period=month, now=system_clock())
    if as_json:
        print_json(report)
        return
    typer.echo(
        f"Period {report.period} is ASSIGNED"
        + (" (already)" if report.already_done else "")
        + f": {plural(report.statements_assigned, 'statement')}, "
        f"{plural(report.transactions_assigned, 'transaction')} in this run."
    )


@periods_app.command("list")
def list_periods_command(
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Every period with its status, statements and transactions still PENDING."""
    with _settlement(data_dir, database_url) as op, statement_queries(op.engine) as q:
        infos = list(q.periods())
    if as_json:
        print_json(infos)
        return
    print_table(
        "Settlement periods",
        ["period", "status", "statements", "transactions", "pending", "closed", "assigned"],
        [
            [
                i.period,
                i.status.value,
                str(i.statement_count),
                str(i.transaction_count),
                str(i.pending_count),
                show_time(i.closed_at, op.zone),
                show_time(i.assigned_at, op.zone),
            ]
            for i in infos
        ],
        zone=op.zone,
    )


@statements_app.command("list")
def list_statements_command(
    period: Annotated[
        str | None, typer.Option(help="Only this period, YYYY-MM.", show_default="all")
    ] = None,
    merchant_id: MerchantFilter = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Statements, by period then merchant."""
    month = _period(period)
    with _settlement(data_dir, database_url) as op, statement_queries(op.engine) as q:
        found = list(q.statements(period=month, merchant_id=merchant_id))
    if as_json:
        print_json([exports.statement_fields(s) for s in found])
        return
    print_table(
        "Statements",
        ["id", "period", "merchant", "status", "transactions", "lines", "gross HKD", "HKD"],
        [
            [
                str(s.statement_id),
                s.period,
                s.merchant_id,
                s.status.value,
                str(s.totals.transaction_count),
                str(s.line_count),
                format_minor_hkd(s.totals.gross_minor),
                format_minor_hkd(s.commission_minor),
            ]
            for s in found
        ],
    )


StatementArg = Annotated[int, typer.Argument(help="The statement id.", show_default=False)]


@statements_app.command("show")
def show_statement_command(
    statement_id: StatementArg,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """One statement with its lines."""
    with _settlement(data_dir, database_url) as op, statement_queries(op.engine) as q:
        if as_json:
            exports.write_statement_json(q, statement_id, sys.stdout)
            return
        statement = q.statement(statement_id)
        if statement is None:
            fail(f"no statement {statement_id}")
        _print_statement(q, statement)


def _print_statement(q: Any, statement: Any) -> None:
    fields = exports.statement_fields(statement)
    for key in ("statementId", "period", "merchantId", "status", "contentHash"):
        typer.echo(f"{key}: {fields[key]}")
    typer.echo(
        f"transactions: {statement.totals.transaction_count} (gross "
        f"{fields['grossHkd']}, refunded {fields['refundedHkd']}) - commission "
        f"{fields['commissionExactHkd']} exact, {fields['commissionHkd']} HKD rounded"
    )
    print_table(
        f"Lines of statement {statement.statement_id}",
        ["line", "transaction", "dir", "goods", "rule", "base HKD", "commission HKD", "rev"],
        [
            [
                str(line.line_id),
                line.out_trans_id,
                line.direction,
                line.goods_code or "-",
                f"{line.rule_kind} {line.rule_value}",
                format_minor_hkd(line.base_minor),
                format_e4_hkd(line.commission_e4),
                "-" if line.reverses_line_id is None else str(line.reverses_line_id),
            ]
            for line in q.lines(statement.statement_id)
        ],
        empty="No lines.",
    )


@statements_app.command("export")
def export_command(
    statement_id: Annotated[
        int | None,
        typer.Option(
            "--statement-id", help="Export this statement.", show_default="none: or --period"
        ),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            help="Export every statement of a period.", show_default="none: or --statement-id"
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="csv or json.")] = Format.csv,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write.", show_default="stdout", dir_okay=False),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Export a statement or a period, CSV or JSON (columns: docs/statements.md)."""
    if (statement_id is None) == (period is None):
        fail("give exactly one of --statement-id and --period", Exit.USAGE)
    month = _period(period)
    with (
        _settlement(data_dir, database_url) as op,
        statement_queries(op.engine) as q,
        _open(out) as target,
    ):
        _export(q, statement_id, month, fmt, target)


@contextmanager
def _open(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        handle = output.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}", Exit.USAGE)
    with handle:
        yield handle


def _export(q: Any, statement: int | None, period: str | None, fmt: Format, out: TextIO) -> None:
    if statement is not None:
        if fmt is Format.csv:
            exports.write_statement_csv(q, statement, out)
        else:
            exports.write_statement_json(q, statement, out)
        return
    assert period is not None
    if fmt is Format.csv:
        exports.write_period_csv(q, period, out)
    else:
        exports.write_period_json(q, period, out)


@statements_app.command("totals")
def totals_command(
    merchant_id: MerchantFilter = None,
    first: Annotated[
        str | None,
        typer.Option("--from", help="First period, YYYY-MM.", show_default="the first"),
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last period, YYYY-MM.", show_default="the last")
    ] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Per-merchant totals over a range of periods."""
    first_period, last_period = _period(first), _period(last)
    with _settlement(data_dir, database_url) as op, statement_queries(op.engine) as q:
        rows = q.merchant_totals(
            merchant_id=merchant_id, first_period=first_period, last_period=last_period
        )
    if as_json:
        print_json(rows)
        return
    print_table(
        "Totals per merchant",
        ["merchant", "periods", "statements", "transactions", "gross HKD", "commission HKD"],
        [
            [
                t.merchant_id,
                f"{t.first_period}..{t.last_period}",
                str(t.statement_count),
                str(t.transaction_count),
                format_minor_hkd(t.gross_minor),
                format_minor_hkd(t.commission_minor),
            ]
            for t in rows
        ],
        empty="No statements.",
    )


def parse_body(raw: bytes, client_id: str) -> SyncCommand:
    """The endpoint's own parsing and normalisation of a raw body."""
    return to_command(parse_sync_body(raw), client_id)


def audit_command(
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(help="Violations to list at most.", min=1)] = 1000,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Check every settlement invariant and re-verify every signed request; exit 1 on findings."""
    with _settlement(data_dir, database_url) as op, audit_queries(op.engine) as q:
        report = audit(q, parse_body=parse_body, limit=limit)
    summary = {
        "ok": report.ok,
        "transactions": report.transactions,
        "statements": report.statements,
        "statementLines": report.statement_lines,
        "carriedForward": report.carried_forward,
        "violationCount": report.violation_count,
        "byCheck": DataKeys(report.by_check),
        "violations": [v.as_dict() for v in report.violations],
    }
    if not as_json:
        _print_audit(report)
    elif report.ok:
        print_json(summary)
    if not report.ok:
        fail(f"the audit found {plural(report.violation_count, 'violation')}", result=summary)


def _print_audit(report: AuditReport) -> None:
    for v in report.violations:
        typer.echo(f"{v.check}: {v.subject}: {v.detail}")
    verdict = "OK" if report.ok else plural(report.violation_count, "VIOLATION")
    typer.echo(
        f"Audit {verdict}: {plural(report.transactions, 'transaction')}, "
        f"{plural(report.statements, 'statement')}, "
        f"{plural(report.statement_lines, 'statement line')} checked; "
        f"{plural(report.carried_forward, 'PENDING transaction')} of closed periods carried "
        "forward to the next close."
    )
