"""Console pages of settlement: periods (preview, close, assign), statements, exports, audit."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from asap_sync.console.pages_approvals import pending_by_action, proposed_notice
from asap_sync.console.web import Ask, back
from asap_sync.domain.model import SyncCommand
from asap_sync.domain.settlement import StatementLine, parse_period
from asap_sync.service import approvals, exports
from asap_sync.service.admin_ports import AdminError
from asap_sync.service.approval_ports import Proposal
from asap_sync.service.audit import audit
from asap_sync.service.close_preview import PreviewJob, preview_close
from asap_sync.service.operator_ports import Actor, AuditRun, Role
from asap_sync.service.settlement import assign_period
from asap_sync.service.sync_command import to_command
from asap_sync.storage.audit_queries import audit_queries
from asap_sync.storage.console_queries import console_queries
from asap_sync.storage.console_summaries import DaySummaries
from asap_sync.storage.settlement import SqlSettlementUnitOfWork
from asap_sync.storage.statement_queries import statement_queries
from asap_sync.wire import parse_sync_body

LINES_SHOWN = 500
INLINE_WAIT = 0.25  # seconds a preview may take to be shown at once (and not kept)
VIOLATIONS_KEPT = 1000


def periods_page(ask: Ask) -> Response:
    """Every period with its status, statements and what is still PENDING."""
    DaySummaries(ask.console.engine).ensure_all(ask.console.clock())
    with console_queries(ask.console.engine) as q:
        periods = q.periods()
    proposed = pending_by_action(ask).get(approvals.PERIOD_CLOSE, {})
    return ask.render("periods.html", periods=periods, proposed=proposed)


def preview_page(ask: Ask) -> Response:
    """The dry run: exactly the statements closing the period now would seal.

    It runs in the background (the close's own steps, so a million transactions take the
    close's time). One that finishes within ``INLINE_WAIT`` is shown at once, and computed
    afresh on every visit; a longer one shows its progress (polled by htmx), and its result is
    kept, with the time it was computed, until the operator recomputes it.
    """
    period = parse_period(ask.request.path_params["period"])
    allow_open = ask.query("allow_open_month") == "1"
    job = ask.console.previews.get(period, allow_open)
    if job is None or (job.done.is_set() and (job.took or 0) < INLINE_WAIT):
        job = _start_preview(ask, period, allow_open)
        job.done.wait(INLINE_WAIT)
    if not job.done.is_set():
        return ask.render("preview_running.html", job=job, allow_open=allow_open)
    return ask.render(
        "preview.html",
        preview=job.result,
        job=job,
        kept=(job.took or 0) >= INLINE_WAIT,
        allow_open=allow_open,
        approval_required=approvals.approval_required(ask.admin()),
    )


def preview_progress(ask: Ask) -> Response:
    """The running preview's progress (htmx); once it is done, the page is loaded again."""
    period = parse_period(ask.request.path_params["period"])
    allow_open = ask.query("allow_open_month") == "1"
    job = ask.console.previews.get(period, allow_open)
    if job is None or job.done.is_set():
        response = ask.render("_preview_progress.html", job=job, allow_open=allow_open)
        response.headers["HX-Refresh"] = "true"
        return response
    return ask.render("_preview_progress.html", job=job, allow_open=allow_open)


def recompute_preview(ask: Ask) -> Response:
    """Start the preview again (a kept result is replaced when the new one is done)."""
    period = parse_period(ask.request.path_params["period"])
    allow_open = ask.field("allow_open_month") == "1"
    _start_preview(ask, period, allow_open)
    query = "?allow_open_month=1" if allow_open else ""
    return back(f"/console/periods/{period}/preview{query}")


def _start_preview(ask: Ask, period: str, allow_open: bool) -> PreviewJob:
    units, console = _units(ask), ask.console
    now = console.clock()
    return console.previews.start(
        period,
        allow_open,
        now,
        lambda heard: preview_close(
            units,
            period=period,
            now=now,
            zone=console.zone,
            allow_open_month=allow_open,
            on_statement=heard,
        ),
    )


def close_action(ask: Ask) -> Response:
    """Close the period (the same use case as ``asap-sync periods close``)."""
    period = parse_period(ask.request.path_params["period"])
    actor = ask.actor()
    report = approvals.close_or_propose(
        _units(ask, actor),
        period=period,
        zone=ask.console.zone,
        allow_open_month=ask.field("allow_open_month") == "1",
        actor=actor,
        role=ask.operator.role,
    )
    if isinstance(report, Proposal):
        return back("/console/periods", notice=proposed_notice(report))
    notice = (
        f"Period {period} is {report.status.value}: {report.statement_count} statements, "
        f"{report.transaction_count} transactions."
    )
    return back("/console/statements", period=period, notice=notice)


def assign_action(ask: Ask) -> Response:
    """Assign a closed period (the same use case as ``asap-sync periods assign``)."""
    period = parse_period(ask.request.path_params["period"])
    actor = ask.actor()
    assign_period(_units(ask, actor), period=period, now=actor.at)
    return back("/console/periods", notice=f"Period {period} is ASSIGNED.")


def _units(ask: Ask, actor: Actor | None = None) -> Any:
    engine = ask.console.engine
    return lambda: SqlSettlementUnitOfWork(engine, actor=actor)


# -- statements ---------------------------------------------------------------------------


def statements_page(ask: Ask) -> Response:
    """Statements of a period or a merchant."""
    period = ask.query("period") or None
    merchant = ask.query("merchant_id") or None
    if period:
        parse_period(period)
    with statement_queries(ask.console.engine) as q:
        found = list(q.statements(period=period, merchant_id=merchant))
    return ask.render(
        "statements.html",
        statements=found,
        period=period or "",
        merchant=merchant or "",
        columns=exports.CSV_COLUMNS,
    )


def statement_page(ask: Ask) -> Response:
    """One statement: totals, hash, lines (the first ones) and carried-forward reversals."""
    statement_id = int(ask.request.path_params["statement_id"])
    with statement_queries(ask.console.engine) as q:
        statement = q.statement(statement_id)
        if statement is None:
            raise exports.StatementNotFound(f"no statement {statement_id}")
        lines: list[StatementLine] = []
        carried: list[StatementLine] = []
        for line in q.lines(statement_id):
            if line.reverses_statement_id not in (None, statement_id):
                carried.append(line)
            if len(lines) < LINES_SHOWN:
                lines.append(line)
    return ask.render(
        "statement.html",
        s=statement,
        lines=lines,
        carried=carried,
        shown=LINES_SHOWN,
        columns=exports.CSV_COLUMNS,
    )


def export_statement(ask: Ask) -> Response:
    """A statement as CSV or JSON, with the chosen columns, streamed."""
    statement_id = int(ask.request.path_params["statement_id"])
    return _export(ask, f"statement-{statement_id}", statement_id=statement_id)


def export_period(ask: Ask) -> Response:
    """Every statement of a period as CSV or JSON, with the chosen columns, streamed."""
    period = parse_period(ask.request.path_params["period"])
    return _export(ask, f"period-{period}", period=period)


def _export(ask: Ask, name: str, **which: Any) -> Response:
    fmt = ask.query("format") or "csv"
    if fmt not in ("csv", "json"):
        raise AdminError(f"unknown export format {fmt!r}: csv or json")
    picked = ask.request.query_params.getlist("column")
    columns = tuple(c for c in exports.CSV_COLUMNS if c in picked) or exports.CSV_COLUMNS
    engine = ask.console.engine
    with statement_queries(engine) as q:  # fail here, before streaming, if it does not exist
        if "statement_id" in which and q.statement(which["statement_id"]) is None:
            raise exports.StatementNotFound(f"no statement {which['statement_id']}")
    chunks = _csv_chunks if fmt == "csv" else _json_chunks
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return StreamingResponse(
        chunks(engine, columns, **which),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


EXPORT_CHUNK_ROWS = 500


def _csv_chunks(engine: Any, columns: tuple[str, ...], **which: Any) -> Iterator[str]:
    """The CLI's CSV rows and writer (the same bytes when every column is picked)."""
    with statement_queries(engine) as q:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for n, row in enumerate(exports.csv_rows(q, _statements(q, which), columns)):
            writer.writerow(row)
            if n % EXPORT_CHUNK_ROWS == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()


def _json_chunks(engine: Any, columns: tuple[str, ...], **which: Any) -> Iterator[str]:
    """The CLI's JSON export in pieces; lines keep the picked columns' fields."""
    keys = None if columns == exports.CSV_COLUMNS else {_camel(c) for c in columns}
    with statement_queries(engine) as q:
        if "period" in which:
            yield from exports.period_json_chunks(q, which["period"], keys)
            return
        yield from exports.statement_json_chunks(q, _statements(q, which)[0], keys)
        yield "\n"


def _statements(q: Any, which: dict[str, Any]) -> Any:
    if "statement_id" in which:
        return [q.statement(which["statement_id"])]
    return q.statements(period=which["period"])


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


# -- audit --------------------------------------------------------------------------------


def audit_page(ask: Ask) -> Response:
    """The history of audit runs; run one."""
    with ask.console.operators(read_only=True) as uow:
        runs = uow.operators.audit_runs(50)
    return ask.render("audit.html", runs=runs)


def audit_run_page(ask: Ask) -> Response:
    """One run's findings, with links to the rows they concern."""
    run_id = int(ask.request.path_params["run_id"])
    with ask.console.operators(read_only=True) as uow:
        run = uow.operators.audit_run(run_id)
    if run is None:
        raise AdminError(f"no audit run {run_id}")
    findings = [{**v, "link": _link(v["subject"])} for v in run.report.get("violations", [])]
    return ask.render("audit_run.html", run=run, findings=findings)


def run_audit(ask: Ask) -> Response:
    """Run the audit (the same checks as ``asap-sync audit``) and keep its report."""
    actor = ask.actor()
    with audit_queries(ask.console.engine) as q:
        report = audit(q, parse_body=_parse_body, limit=VIOLATIONS_KEPT)
    finished = ask.console.clock()
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
    run = AuditRun(
        audit_run_id=0,
        started_at=actor.at,
        finished_at=finished,
        actor=actor.name,
        ok=report.ok,
        violation_count=report.violation_count,
        transactions=report.transactions,
        statements=report.statements,
        report=summary,
    )
    with ask.console.operators.acting(actor)() as uow:
        run_id = uow.operators.add_audit_run(run)
        uow.note("audit.run", f"audit run {run_id}", after={"ok": report.ok})
        uow.commit()
    return back(f"/console/audit/{run_id}")


def _parse_body(raw: bytes, client_id: str) -> SyncCommand:
    return to_command(parse_sync_body(raw), client_id)


_SUBJECT_LINKS = (
    (re.compile(r"^statement (\d+)"), "/console/statements/{}"),
    (re.compile(r"^transaction (\d+)"), "/console/transactions/{}"),
    (re.compile(r"^period (\d{4}-\d{2})"), "/console/periods/{}/preview"),
)


def _link(subject: str) -> str | None:
    for pattern, template in _SUBJECT_LINKS:
        found = pattern.match(subject)
        if found:
            return template.format(found.group(1))
    return None


PAGES = [
    ("/periods", periods_page, Role.VIEWER, ["GET"]),
    ("/periods/{period}/preview", preview_page, Role.VIEWER, ["GET"]),
    ("/periods/{period}/preview", recompute_preview, Role.VIEWER, ["POST"]),
    ("/periods/{period}/preview/progress", preview_progress, Role.VIEWER, ["GET"]),
    ("/periods/{period}/close", close_action, Role.FINANCE, ["POST"]),
    ("/periods/{period}/assign", assign_action, Role.FINANCE, ["POST"]),
    ("/periods/{period}/export", export_period, Role.FINANCE, ["GET"]),
    ("/statements", statements_page, Role.VIEWER, ["GET"]),
    ("/statements/{statement_id:int}", statement_page, Role.VIEWER, ["GET"]),
    ("/statements/{statement_id:int}/export", export_statement, Role.FINANCE, ["GET"]),
    ("/audit", audit_page, Role.VIEWER, ["GET"]),
    ("/audit/run", run_audit, Role.FINANCE, ["POST"]),
    ("/audit/{run_id:int}", audit_run_page, Role.VIEWER, ["GET"]),
]
